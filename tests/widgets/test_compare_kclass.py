"""The Compare panel on two 10-class runs (``digits_run``, ``digits_run_b``) and on a trained run against an
imported model (``imported_digits_run``): per-class accuracy with Wilson intervals, the K-aware agreement
cells, the top classes' probabilities and the depth slider."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cvd_explorer.runs.imported_meta import NO_HISTORY
from cvd_explorer.widgets import Compare
from tests.kclass_fixtures import DIGIT_CLASSES
from tests.unit.test_stats_per_class import wilson

pytestmark = pytest.mark.slow  # the fixtures train tiny models


def read_rows(run: Path) -> dict[str, dict[str, str]]:
    """``predictions.csv`` read directly: manifest path -> row."""
    with open(run / "predictions.csv", newline="") as fh:
        return {row["path"]: row for row in csv.DictReader(line for line in fh if not line.startswith("#"))}


def is_png(image) -> bool:
    return bytes(image.value).startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def panel(digits_run, digits_run_b):
    cmp = Compare(digits_run, digits_run_b, background=False)
    yield cmp
    cmp.close()


def test_per_class_accuracy_with_wilson_intervals(panel, digits_run, digits_run_b):
    assert not panel.errors.message and panel.stats is not None
    assert panel.stats.classes == DIGIT_CLASSES
    for rows, per_class in ((read_rows(digits_run), panel.stats.per_class_a),
                            (read_rows(digits_run_b), panel.stats.per_class_b)):
        assert list(per_class) == list(DIGIT_CLASSES)
        for name in DIGIT_CLASSES:
            flags = [r["correct"] == "1" for r in rows.values() if r["label"] == name]
            ci = per_class[name]
            assert ci is not None and ci.n == len(flags) > 0
            assert ci.value == pytest.approx(np.mean(flags))
            assert (ci.low, ci.high) == tuple(pytest.approx(v, abs=1e-9) for v in wilson(sum(flags), len(flags)))
    assert "Per-class accuracy" in panel.stats_html.value
    for name in DIGIT_CLASSES:  # one row per class in the per-class table
        assert f">{name}</td>" in panel.stats_html.value.split("cvd-per-class")[1]
    assert panel.stats.confusion_a.shape == (10, 10)
    assert int(panel.stats.confusion_a.trace()) == sum(r["correct"] == "1" for r in read_rows(digits_run).values())


def test_agreement_cells_split_the_shared_mistakes(panel, digits_run, digits_run_b):
    a, b = read_rows(digits_run), read_rows(digits_run_b)
    shared = a.keys() & b.keys()
    wrong = {k for k in shared if a[k]["correct"] == "0" and b[k]["correct"] == "0"}
    same = {k for k in wrong if a[k]["predicted"] == b[k]["predicted"]}
    expected = {
        "all": shared, "both_right": {k for k in shared if a[k]["correct"] == b[k]["correct"] == "1"},
        "both_wrong": wrong, "only_a": {k for k in shared if a[k]["correct"] == "1" and b[k]["correct"] == "0"},
        "only_b": {k for k in shared if a[k]["correct"] == "0" and b[k]["correct"] == "1"},
        "both_wrong_same": same, "both_wrong_different": wrong - same,
    }
    assert panel.pairing.counts() == {cell: len(keys) for cell, keys in expected.items()}
    assert (panel.stats.shared.same, panel.stats.shared.different) == (len(same), len(wrong - same))
    labels = dict((value, label) for label, value in panel.agreement.options)
    assert labels["both_wrong_same"] == f"both wrong, same class ({len(same)})"
    for cell in ("both_wrong_same", "both_wrong_different", "all"):
        panel.agreement.value = cell
        assert {p.a["relpath"] for p in panel.pairing.pairs if p.key in panel.samples} == expected[cell]
    assert f"<b>{len(same):,}</b> with the same wrong class" in panel.stats_html.value
    assert not panel.errors.message


def test_prediction_box_shows_the_top_classes_and_the_depth_slider_draws(panel, digits_run):
    panel.agreement.value = "all"
    panel.sample = panel.samples[0]
    pair = next(p for p in panel.pairing.pairs if p.key == panel.sample)
    probs = np.asarray(pair.a["probs"])
    top = np.argsort(-probs, kind="stable")[:3]
    box = panel.sides[0].prediction.value
    for i in top:
        assert f"p({DIGIT_CLASSES[i]})</td><td>{probs[i]:.3f}" in box
    assert box.count("<td style='padding-right:8px;color:#666'>p(") == 3
    assert f"predicted</td><td>{pair.a['predicted']}" in box
    before = tuple(bytes(img.value) for img in panel.cam_images)
    panel.depth.value = 20
    after = tuple(bytes(img.value) for img in panel.cam_images)
    assert all(p.startswith(b"\x89PNG") for p in before + after) and before != after
    assert not panel.errors.message


def test_compare_opens_on_a_trained_run_and_an_imported_one(digits_run, imported_digits_run):
    from cvd_explorer.runs import Run

    panel = Compare(digits_run, imported_digits_run, background=False)
    try:
        assert not panel.errors.message
        a, b = read_rows(digits_run), read_rows(imported_digits_run)
        assert panel.pairing.same_manifest and len(panel.pairing.pairs) == len(a) == len(b)
        assert f"{Run(imported_digits_run).name}: {NO_HISTORY}" in panel.notice.value
        assert "(imported, 64 px)" in panel.sides[1].title.value
        ci = panel.stats.per_class_b["3"]
        assert ci is not None and ci.value == pytest.approx(
            np.mean([r["correct"] == "1" for r in b.values() if r["label"] == "3"]))
        assert all(is_png(img) for img in panel.cam_images)
        names = panel.layers(100)
        assert names[1] is not None and names[1].startswith("conv5_")  # the nested ResNet50's deepest stage
        panel.depth.value = 0
        assert all(is_png(img) for img in panel.cam_images) and not panel.errors.message
    finally:
        panel.close()


def test_runs_with_other_classes_are_refused_with_both_lists(digits_run, run_dir):
    panel = Compare(run_dir, digits_run, background=False)
    try:
        assert "the same classes" in panel.errors.message and "'9'" in panel.errors.message
        assert panel.samples == []
    finally:
        panel.close()
