"""The Atlas panel without a browser: selection <-> Explorer gallery, clicks, confusion cells, triage,
verdicts persisted across instances, depth slider -> layer slider, a run without an atlas."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from cvd_explorer.atlas import compute_atlas
from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.explore import atlas_view as av
from cvd_explorer.explore.samples import SampleRow, filter_rows, restrict_rows
from cvd_explorer.explore.verdicts import Verdicts
from cvd_explorer.runs import Run
from cvd_explorer.verdicts import read_verdicts


@pytest.fixture(scope="module")
def atlas_run(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the small run with its test atlas computed once (verdict tests write into copies of it)."""
    out = tmp_path_factory.mktemp("atlas-panel") / "run"
    shutil.copytree(run_dir, out, ignore=shutil.ignore_patterns("atlas"))
    compute_atlas(out)
    return out


@pytest.fixture
def run_copy(atlas_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(atlas_run, tmp_path / "run"))


def _atlas(run: Path, **kwargs):
    from cvd_explorer import Atlas

    return Atlas(run, background=False, **kwargs)


def test_points_follow_the_atlas_and_the_explorer_keys(atlas_run: Path) -> None:
    atlas = _atlas(atlas_run)
    run = Run(atlas_run)
    rows = run.predictions or []
    assert atlas.points == [r["path"] for r in rows]  # the test split, in manifest order, as Explorer keys
    assert len(atlas.scatter_widget.points) == len(atlas.points)
    assert not atlas.error.value
    assert "misclassified" in atlas.counts.value
    assert bytes(atlas.depth_image.value[:4]) == bytes(atlas.mean_image.value[:4]) == b"\x89PNG"
    assert atlas._explorer is None  # no model loaded to open the Atlas
    # a new scatter is left as jupyter-scatter made it: a None selection and an empty annotation list sent
    # before the browser's first draw left its canvas blank in Chromium (tests/e2e/test_atlas_browser.py)
    assert atlas.scatter_widget.annotations is None and len(atlas.scatter_widget.selection) == 0


def test_selection_filters_the_gallery_exactly_and_clears(atlas_run: Path) -> None:
    atlas = _atlas(atlas_run)
    wrong = [p.key for p in atlas.atlas_points if not p.correct]
    chosen = wrong[:3] + [p.key for p in atlas.atlas_points if p.correct][:2]
    atlas.selection = chosen
    explorer = atlas.explorer
    assert sorted(explorer.samples) == sorted(chosen)
    assert sorted(selected(atlas)) == sorted(atlas.points.index(k) for k in chosen)
    assert "atlas selection: 5" in explorer.count.value
    explorer.filter.value = "misclassified"  # the Explorer's own filters apply on top
    assert sorted(explorer.samples) == sorted(wrong[:3])
    explorer.filter.value = "all"
    atlas.selection = []
    assert len(explorer.samples) == len(atlas.points)
    atlas.selection = chosen
    atlas.clear_button.click()
    assert len(explorer.samples) == len(atlas.points) and atlas.selection == []
    assert atlas.scatter_widget.selection is None or len(atlas.scatter_widget.selection) == 0
    with pytest.raises(KeyError, match="not points of the atlas"):
        atlas.selection = ["/nowhere/x.jpg"]


def selected(atlas) -> list[int]:
    return [int(i) for i in atlas.scatter_widget.selection]


def test_browser_selection_and_click_open_the_image(atlas_run: Path) -> None:
    atlas = _atlas(atlas_run)
    explorer = atlas.explorer
    # a lasso / box selection arrives as point indices on the widget's traitlet
    atlas.scatter_widget.selection = np.asarray([0, 2, 4], np.uint32)
    assert sorted(explorer.samples) == sorted(atlas.points[i] for i in (0, 2, 4))
    assert atlas.selection == [atlas.points[i] for i in (0, 2, 4)]
    # a click selects one point: that image opens in the Explorer, its views computed
    wrong = next(p for p in atlas.atlas_points if not p.correct)
    atlas.scatter_widget.selection = np.asarray([wrong.index], np.uint32)
    explorer.wait()
    assert explorer.sample == wrong.key
    assert wrong.name in explorer.prediction.value
    assert explorer.cam_image.value
    # the gallery's selection highlights its point (annotations around it)
    other = atlas.atlas_points[1]
    atlas.scatter_widget.selection = None
    explorer.sample = other.key
    explorer.wait()
    assert atlas.highlighted == other.key
    assert len(atlas.scatter_widget.annotations) == 5  # a square and a crosshair around its point
    assert other.name in atlas.verdict_target.value


def test_confusion_cells_filter_the_gallery(atlas_run: Path) -> None:
    atlas = _atlas(atlas_run)
    classes = Run(atlas_run).classes
    total = 0
    for (true, predicted), button in atlas.confusion_buttons.items():
        expected = [p.key for p in atlas.atlas_points if p.label == true and p.prediction == predicted]
        assert button.description == f"{len(expected):,}" and button.disabled == (not expected)
        if expected:
            button.click()
            assert sorted(atlas.explorer.samples) == sorted(expected), (true, predicted)
        total += len(expected)
    assert total == len(atlas.points) and len(atlas.confusion_buttons) == len(classes) ** 2


def test_triage_filter_sort_and_badges(atlas_run: Path) -> None:
    atlas = _atlas(atlas_run)
    atlas.triage_filter.value = "suspected label error"
    atlas.triage_sort.value = "label-issue score"
    keys = atlas.apply_triage()
    suspects = sorted((p for p in atlas.atlas_points if p.suspect), key=lambda p: p.label_score)
    assert keys == [p.key for p in suspects] and keys
    explorer = atlas.explorer
    assert explorer.samples == keys  # the gallery in label-issue order
    button = explorer.gallery.cells[0][1]
    assert button.description.startswith("⚑")
    assert "suspected label error" in button.tooltip
    explorer.sort.value = "loss"
    assert atlas.apply_triage() == keys and explorer.samples == keys  # applied again: the triage's order again


def test_verdicts_persist_across_instances_and_export(run_copy: Path, tmp_path: Path) -> None:
    atlas = _atlas(run_copy)
    wrong = next(p for p in atlas.atlas_points if not p.correct)
    atlas.selection = [wrong.key]
    atlas.explorer.wait()
    atlas.verdict_note.value = "a dog in a cat's folder"
    atlas.verdict_buttons["label wrong"].click()
    assert atlas.verdict_note.value == ""  # the note went with its verdict
    second = next(p for p in atlas.atlas_points if p.key != wrong.key)
    atlas.set_verdict("not a cat or dog", key=second.key)
    assert atlas.error.value == ""
    saved = read_verdicts(run_copy / "atlas" / "verdicts.csv")
    assert saved[wrong.path].verdict == "label wrong" and saved[wrong.path].note == "a dog in a cat's folder"
    assert not list((run_copy / "atlas").glob(".*.tmp"))

    again = _atlas(run_copy)  # a new kernel's Atlas reads them back
    assert again.verdicts.as_dict() == {wrong.path: "label wrong", second.path: "not a cat or dog"}
    again.triage_filter.value = "has a verdict"
    again.triage_sort.value = "plot order"
    assert sorted(again.apply_triage()) == sorted([wrong.key, second.key])
    out = again.export_verdicts(tmp_path / "verdicts.csv")
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["path"], r["verdict"], r["label"]) for r in rows} == {
        (wrong.path, "label wrong", wrong.label), (second.path, "not a cat or dog", second.label)}
    again.set_verdict(None, key=second.key)
    assert Verdicts(run_copy).as_dict() == {wrong.path: "label wrong"}


def test_depth_slider_moves_the_explorer_layer(atlas_run: Path) -> None:
    atlas = _atlas(atlas_run)
    explorer = atlas.explorer
    first = atlas.depth_layer.options[0]
    before = atlas.depth_image.value
    atlas.depth_layer.value = first
    assert explorer.layer.value == first and explorer.layer_kind.value == "conv"
    assert atlas.depth_image.value != before  # the marker moved
    explorer.layer.value = explorer.layer.options[-1]
    assert atlas.depth_layer.value == explorer.layer.options[-1]
    atlas.depth_by_class.value = True
    atlas.mean_block.value = atlas.mean_block.options[0]
    assert bytes(atlas.mean_image.value[:4]) == b"\x89PNG" and not atlas.error.value


def test_views_follow_the_shared_link(atlas_run: Path) -> None:
    """The views and the Explorer follow the one shared state; no view sets another's widgets."""
    from cvd_explorer.widgets.link import Selection

    atlas = _atlas(atlas_run)
    first = atlas.depth_layer.options[0]
    atlas.link.layer = first  # as another view would: the depth marker and the Explorer's layer follow
    assert atlas.depth_layer.value == first and atlas.explorer.layer.value == first
    wrong = [p for p in atlas.atlas_points if not p.correct][:2]
    atlas.link.selection = Selection(tuple(p.key for p in wrong))
    assert sorted(selected(atlas)) == sorted(p.index for p in wrong)
    assert sorted(atlas.explorer.samples) == sorted(p.key for p in wrong)
    assert "2</b> selected (2 misclassified)" in atlas.scatter_view.selection_text.value
    atlas.link.sample = wrong[1].key  # the Explorer opens it; the point is outlined, its verdict shown
    assert atlas.explorer.sample == wrong[1].key and atlas.highlighted == wrong[1].key
    assert wrong[1].name in atlas.verdict_target.value
    atlas.explorer.sample = wrong[0].key  # and back: the Explorer's choice reaches the link
    assert atlas.link.sample == wrong[0].key and atlas.highlighted == wrong[0].key
    atlas.reload()  # new views start from the link: still outlined, the selection cleared
    assert atlas.highlighted == wrong[0].key and atlas.selection == []
    assert len(atlas.explorer.samples) == len(atlas.points)


def test_figures_are_drawn_on_the_panels_worker(atlas_run: Path) -> None:
    import threading

    from cvd_explorer import Atlas

    atlas = Atlas(atlas_run)  # background: the figures are drawn on the worker, wait() waits for them
    try:
        assert atlas.wait(120)
        assert bytes(atlas.depth_image.value[:4]) == bytes(atlas.mean_image.value[:4]) == b"\x89PNG"
        before = atlas.depth_image.value
        atlas.depth_by_class.value = True
        assert atlas.wait(120) and atlas.depth_image.value != before
        assert not atlas.busy_indicator.active and not atlas.error.value
        assert not [t for t in threading.enumerate() if t.name == "cvd-atlas-figures"]  # no thread of its own
    finally:
        atlas.close()


def test_hover_thumbnails_load_only_the_hovered_image_once(atlas_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cvd_explorer.data import loader

    loaded: list[str] = []
    real = loader.load_image

    def counting(path, *args, **kwargs):
        loaded.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(loader, "load_image", counting)
    atlas = _atlas(atlas_run)
    assert loaded == []  # opening reads no image
    for i in (3, 3, 5, 3):
        atlas.scatter_widget.hovering = i
        atlas.scatter_widget.hovering = None
    assert loaded == [atlas.points[3], atlas.points[5]]  # each hovered image once, then from the cache
    assert bytes(atlas.hover_image.value[:2]) == b"\xff\xd8"  # a JPEG
    assert atlas.atlas_points[3].name in atlas.hover_text.value


def test_explorer_and_atlas_as_tabs(atlas_run: Path) -> None:
    from cvd_explorer import Explorer

    atlas = _atlas(atlas_run, tabs=True)
    assert [atlas.root.get_title(i) for i in range(2)] == ["Explorer", "Atlas"]
    assert atlas.root.children[0] is atlas.explorer.root
    atlas.root.selected_index = 1
    key = atlas.points[3]
    atlas.selection = [key]
    assert atlas.explorer.samples == [key] and atlas.explorer.sample == key
    assert atlas.root.selected_index == 0  # a click shows the Explorer's tab
    # an existing Explorer can be linked too
    explorer = Explorer(atlas_run, background=False)
    linked = _atlas(atlas_run, explorer=explorer)
    linked.selection = atlas.points[:2]
    assert sorted(explorer.samples) == sorted(atlas.points[:2]) and linked.explorer_slot.children == ()


def test_run_without_atlas_offers_to_compute_it(run_dir: Path, tmp_path: Path) -> None:
    out = Path(shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("atlas")))
    atlas = _atlas(out)
    assert atlas.points == [] and atlas.error.value == ""
    assert atlas.body.children == (atlas.compute_box,)
    assert "cvd-explorer atlas" in atlas.compute_box.children[0].value
    atlas.compute_button.click()
    assert atlas.error.value == ""
    assert atlas.progress.value == atlas.progress.max == len(Run(out).manifest.split_rows("test"))
    assert len(atlas.points) == len(Run(out).predictions or [])
    assert (out / "atlas" / "test-gradcam" / "summary.json").is_file()


def test_pure_helpers() -> None:
    rows = [SampleRow(f"/d/{n}.jpg", f"{n}.jpg", "cat", "dog", 0.9, False, 2.3, i) for i, n in enumerate("abc")]
    assert [r.name for r in restrict_rows(rows, ["/d/c.jpg", "/d/a.jpg", "/d/zz.jpg"])] == ["c.jpg", "a.jpg"]
    assert restrict_rows(rows, None) == rows
    assert [r.name for r in filter_rows(restrict_rows(rows, ["/d/c.jpg", "/d/a.jpg"]), sort="selection")] == [
        "c.jpg", "a.jpg"]

    depth = DepthCurves.from_json({
        "layers": ["a", "b"], "agreement_with_last": {"correct": [0.5, 1.0], "misclassified": [None, 1.0]},
        "intervals": {"agreement_with_last": {"correct": [[0.4, 0.6], None], "misclassified": [None, None]}},
        "n": {"agreement_with_last": {"correct": [3, 3], "misclassified": [0, 1]}}})
    series = av.depth_series(depth, "agreement_with_last")
    assert [s.name for s in series] == ["correct", "misclassified"]
    assert series[0].lows == [0.4, None] and series[1].means == [None, 1.0] and series[1].counts == [0, 1]
    assert av.depth_series(depth, "mass_in_mask") == [] and av.available_curves(depth) == ["agreement_with_last"]
