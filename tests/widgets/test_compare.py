"""The Compare panel without a browser: agreement cells, depth slider, table, statistics, odd runs."""

from __future__ import annotations

import csv
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from cvd_explorer.depth import layer_at_depth
from cvd_explorer.models import conv_layers
from cvd_explorer.stats import mcnemar
from cvd_explorer.widgets import Compare

pytestmark = pytest.mark.slow  # the fixtures train tiny models


def read_predictions(run: Path) -> dict[str, bool]:
    """``predictions.csv`` read directly: manifest path -> correct."""
    with open(run / "predictions.csv", newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {row["path"]: row["correct"] == "1" for row in rows}


def expected_cells(a: dict[str, bool], b: dict[str, bool]) -> dict[str, set[str]]:
    shared = a.keys() & b.keys()
    return {
        "all": set(shared),
        "both_right": {k for k in shared if a[k] and b[k]},
        "both_wrong": {k for k in shared if not a[k] and not b[k]},
        "only_a": {k for k in shared if a[k] and not b[k]},
        "only_b": {k for k in shared if not a[k] and b[k]},
    }


def is_png(image) -> bool:
    """Whether an ``ipywidgets.Image`` holds PNG bytes."""
    return bytes(image.value).startswith(b"\x89PNG")


def relpaths(panel: Compare) -> set[str]:
    by_key = {p.key: p.a["relpath"] for p in panel.pairing.pairs}
    return {by_key[k] for k in panel.samples}


@pytest.fixture
def panel(run_dir, run_b):
    cmp = Compare(run_dir, run_b, background=False)
    yield cmp
    cmp.close()


def test_agreement_cells_count_and_filter(panel, run_dir, run_b):
    expected = expected_cells(read_predictions(run_dir), read_predictions(run_b))
    assert panel.pairing.same_manifest and panel.notice.value == ""
    assert panel.pairing.counts() == {cell: len(keys) for cell, keys in expected.items()}
    labels = dict((value, label) for label, value in panel.agreement.options)
    for cell, keys in expected.items():
        assert f"({len(keys)})" in labels[cell]
        panel.agreement.value = cell
        assert relpaths(panel) == keys
        assert len(panel.gallery.rows) == len(keys)
        if keys:
            assert panel.sample in panel.samples
    assert not panel.errors.message


def test_depth_moves_both_models_through_their_layers(panel, run_dir, run_b):
    from cvd_explorer.runs.run import Run

    layers = [conv_layers(Run(r).load_model()) for r in (run_dir, run_b)]
    assert panel.sample is not None
    seen = []
    for depth in (0, 30, 55, 80, 100):
        panel.depth.value = depth
        for label, names in zip(panel.layer_labels, layers, strict=True):
            assert f"<code>{layer_at_depth(names, depth)} ·" in label.value
        pngs = tuple(bytes(img.value) for img in panel.cam_images)
        assert all(p.startswith(b"\x89PNG") for p in pngs)
        seen.append(pngs)
    for before, after in pairwise(seen):
        assert before[0] != after[0] and before[1] != after[1]
    # each model got the image at its own input size
    assert [se.image.shape for se in panel._current] == [(32, 32, 3), (40, 40, 3)]
    assert not panel.errors.message


def test_selecting_another_sample_and_the_strips(panel):
    first = panel.sample
    panel.sample = panel.samples[-1]
    assert panel.sample == panel.samples[-1] != first
    side_a, side_b = panel.sides
    assert is_png(side_a.strip_image) and is_png(side_b.strip_image)
    assert is_png(side_a.feature_image)
    pair = panel.pairing.pairs[[p.key for p in panel.pairing.pairs].index(panel.sample)]
    assert f"{pair.a['prob']:.3f}" in side_a.prediction.value and f"{pair.b['prob']:.3f}" in side_b.prediction.value
    with pytest.raises(KeyError):
        panel.sample = "no-such-image.png"


def test_table_statistics_and_curves(panel, run_dir, run_b):
    import json

    summaries = [json.loads((r / "summary.json").read_text()) for r in (run_dir, run_b)]
    table = {row["key"]: row for row in panel.table}
    assert list(table) == ["max_train_accuracy", "min_train_loss", "max_val_accuracy", "min_val_loss",
                           "test_accuracy", "test_loss", "epochs", "images_per_s"]
    for key, row in table.items():
        assert (row["a"], row["b"]) == (summaries[0][key], summaries[1][key])
    accuracy = f"{100 * summaries[0]['max_train_accuracy']:.2f}%"  # the report's look, too
    assert accuracy in panel.table_html.value
    a, b = read_predictions(run_dir), read_predictions(run_b)
    shared = sorted(a.keys() & b.keys())
    test = mcnemar([a[k] for k in shared], [b[k] for k in shared])
    assert panel.stats.mcnemar == test
    assert "significant at 5%" in panel.stats_html.value and "95% CI" in panel.stats_html.value
    assert panel.stats.accuracy_a.value == pytest.approx(np.mean([a[k] for k in shared]))
    assert int(panel.stats.confusion_a.sum()) == int(panel.stats.confusion_b.sum()) == len(shared)
    assert is_png(panel.curves_image)


def test_different_test_sets_compare_shared_images_only(run_dir, run_other_split):
    cmp = Compare(run_dir, run_other_split, background=False)
    try:
        a, b = read_predictions(run_dir), read_predictions(run_other_split)
        assert not cmp.pairing.same_manifest
        assert len(cmp.pairing.pairs) == len(a.keys() & b.keys()) < len(a)
        assert "share only" in cmp.notice.value or "they share" in cmp.notice.value
        assert cmp.pairing.counts() == {c: len(k) for c, k in expected_cells(a, b).items()}
        assert not cmp.errors.message
    finally:
        cmp.close()


def test_run_still_training_shows_what_exists(run_dir, run_training):
    cmp = Compare(run_dir, run_training, background=False)
    try:
        assert "Predictions are missing" in cmp.notice.value and "training in progress" in cmp.notice.value
        assert not cmp.errors.message
        table = {row["key"]: row for row in cmp.table}
        assert table["max_train_accuracy"]["b"] is not None and table["test_accuracy"]["b"] is None
        assert is_png(cmp.curves_image)
        assert cmp.samples == [] and cmp.agreement.disabled
        cmp.depth.value = 10  # no sample: nothing to draw, nothing raised
        assert not cmp.errors.message
    finally:
        cmp.close()


def test_background_worker_and_errors_in_callbacks(run_dir, run_b):
    cmp = Compare(run_dir, run_b)  # off-thread explanations
    try:
        assert cmp.wait(120)
        assert all(is_png(img) for img in cmp.cam_images)
        assert not cmp.busy_indicator.active

        def broken(*_args, **_kwargs):
            raise RuntimeError("drawing failed")

        cmp.sides[0].draw = broken
        cmp.depth.value = 3  # the exception goes to the panel, not out of the callback
        assert "drawing failed" in cmp.errors.message
    finally:
        cmp.close()


def test_unreadable_run_is_reported_in_the_panel(run_dir, tmp_path):
    cmp = Compare(run_dir, tmp_path / "missing-run", background=False)
    try:
        assert "not a run directory" in cmp.errors.message
        assert cmp.samples == []
    finally:
        cmp.close()


def test_atlases_give_depth_curves_and_the_triage(run_dir, run_b, tmp_path):
    import shutil

    from cvd_explorer.atlas import compute_atlas

    a, b = tmp_path / "a", tmp_path / "b"
    for src, dest in ((run_dir, a), (run_b, b)):
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("atlas"))
    without = Compare(a, b, background=False)
    assert "cvd-explorer atlas" in without.atlas.notice.value and not without.atlas.active
    atlas_a, atlas_b = compute_atlas(a), compute_atlas(b)
    panel = Compare(a, b, background=False)
    assert panel.atlas.active and is_png(panel.atlas.depth_image)
    sus_a, sus_b = ({r.path for r in x.rows if r.suspect} for x in (atlas_a, atlas_b))
    suspects = sus_a | sus_b
    # the crossing counts what the atlases say, cell by cell
    cells = expected_cells(read_predictions(a), read_predictions(b))
    both = len(cells["both_wrong"] & sus_a & sus_b)
    assert f"<b>{both:,}</b></td></tr>" in panel.atlas.triage_html.value.split("both wrong")[1].split("only A")[0]
    assert f"{both:,} image(s) both models get wrong" in panel.atlas.triage_html.value
    # the suspects-only filter keeps exactly the suspected images of the cell
    panel.atlas.suspects_only.value = True
    assert relpaths(panel) == suspects & relpaths_all(panel)
    panel.atlas.suspects_only.value = False
    assert len(panel.samples) == len(cells["all"])


def relpaths_all(panel: Compare) -> set[str]:
    return {p.a["relpath"] for p in panel.pairing.pairs}
