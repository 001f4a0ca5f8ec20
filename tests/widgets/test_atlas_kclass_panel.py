"""The Atlas panel on the 10-class run (class folders "0" ... "9"): class colours and legend, the 10 x 10
confusion matrix, per-class depth curves, cleanlab's suggested class, the slices tab, "more like the
selection" and the data-issue triage, each linked to the Explorer's gallery."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cvd_explorer.atlas import compute_atlas, find_atlas
from cvd_explorer.explore import atlas_view as av
from cvd_explorer.runs import Run


@pytest.fixture(scope="module")
def digits_atlas(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the 10-class run with its test atlas computed once."""
    out = tmp_path_factory.mktemp("atlas-kclass") / "run"
    shutil.copytree(digits_run, out, ignore=shutil.ignore_patterns("atlas"))
    compute_atlas(out)
    return out


def _atlas(run: Path):
    from cvd_explorer import Atlas

    return Atlas(run, background=False)


def test_k_class_points_legend_and_confusion(digits_atlas: Path) -> None:
    atlas = _atlas(digits_atlas)
    data = find_atlas(Run(digits_atlas))
    classes = [str(c) for c in range(10)]
    assert not atlas.error.value and len(atlas.points) == len(data.rows)
    probs = data.probs
    for point, row in zip(atlas.atlas_points, probs, strict=True):  # confidence: the predicted class's probability
        assert point.confidence == pytest.approx(float(row.max()), abs=1e-5)
        assert point.prediction == classes[int(row.argmax())]
    assert set(atlas.legend_buttons) == set(classes)
    label = atlas.atlas_points[0].label
    atlas.legend_buttons[label].click()
    expected = [p.key for p in atlas.atlas_points if p.label == label]
    assert atlas.selection == expected and sorted(atlas.explorer.samples) == sorted(expected)

    matrix = data.confusion
    assert len(atlas.confusion_buttons) == 100
    for (true, predicted), button in atlas.confusion_buttons.items():
        n = int(matrix[classes.index(true), classes.index(predicted)])
        assert button.description == (f"{n:,}" if n else "") and button.disabled == (n == 0)
    wrong = next(p for p in atlas.atlas_points if not p.correct)
    atlas.confusion_buttons[(wrong.label, wrong.prediction)].click()
    cell = [p.key for p in atlas.atlas_points if (p.label, p.prediction) == (wrong.label, wrong.prediction)]
    assert sorted(atlas.explorer.samples) == sorted(cell)


def test_k_class_depth_curves_and_suggestions(digits_atlas: Path) -> None:
    atlas = _atlas(digits_atlas)
    data = find_atlas(Run(digits_atlas))
    assert atlas.depth_by_class.layout.display != "none" and av.has_class_curves(data.depth)
    before = atlas.depth_image.value
    atlas.depth_by_class.value = True
    assert atlas.depth_outcome.value == "correct" and atlas.depth_image.value != before
    atlas.depth_outcome.value = "misclassified"
    assert bytes(atlas.depth_image.value[:4]) == b"\x89PNG" and not atlas.error.value
    suspects = [p for p in atlas.atlas_points if p.suspect]
    suggested = av.read_suggestions(data.folder / "label_issues.csv")
    assert all(p.suggested == suggested[p.path] for p in suspects)
    atlas.mean_class.value = "3"
    assert bytes(atlas.mean_image.value[:4]) == b"\x89PNG" and not atlas.error.value


def test_slices_tab_selects_the_slice_on_the_map_and_in_the_explorer(digits_atlas: Path) -> None:
    atlas = _atlas(digits_atlas)
    data = find_atlas(Run(digits_atlas))
    assert data.slices and len(atlas.slice_buttons) == len(data.slices)
    keys = {p.path: p.key for p in atlas.atlas_points}
    for rank, entry in enumerate(data.slices):
        atlas.slice_buttons[rank].click()
        expected = sorted(keys[path] for path in entry["paths"])
        assert sorted(atlas.selection) == expected and sorted(atlas.explorer.samples) == expected
        assert sorted(int(i) for i in atlas.scatter_widget.selection) == sorted(
            atlas.points.index(k) for k in expected)
    assert not any(image.value for strip in atlas.slices.strips for image in strip)  # read when the tab shows
    atlas.tabs.selected_index = 2
    assert atlas.tabs.get_title(2) == "slices"
    assert all(bytes(image.value[:2]) == b"\xff\xd8" for strip in atlas.slices.strips for image in strip)
    assert f"{data.slices[0]['error_rate']:.0%}" in atlas.slices.widget.children[1].children[1].value
    with pytest.raises(ValueError, match="does not exist"):
        atlas.select_slice(len(data.slices))


def test_more_like_the_selection_fills_the_gallery_nearest_first(digits_atlas: Path) -> None:
    atlas = _atlas(digits_atlas)
    data = find_atlas(Run(digits_atlas))
    chosen = atlas.atlas_points[:3]
    atlas.selection = [p.key for p in chosen]
    atlas.similar_k.value = 5
    atlas.similar_button.click()
    nearest = data.similar([p.path for p in chosen], 5)
    keys = {p.path: p.key for p in atlas.atlas_points}
    assert atlas.link.selection.keys == tuple(keys[path] for path, _ in nearest)
    assert atlas.explorer.samples == [keys[path] for path, _ in nearest]  # in the gallery, nearest first
    assert not set(atlas.selection) & {p.key for p in chosen} and "5 nearest to 3" in atlas.similar_text.value
    atlas.clear_selection()
    atlas.explorer.sample = chosen[0].key  # nothing selected: the search starts from the Explorer's image
    assert atlas.more_like_selection(3) == [keys[path] for path, _ in data.similar(chosen[0].path, 3)]


def test_data_issue_triage_filters_and_badges(digits_atlas: Path) -> None:
    atlas = _atlas(digits_atlas)
    data = find_atlas(Run(digits_atlas))
    outliers = data.issues["outlier"]["paths"]
    assert outliers and "data issue: outlier" in [value for _, value in atlas.triage_filter.options]
    atlas.triage_filter.value = "data issue: outlier"
    atlas.triage_sort.value = "plot order"
    keys = atlas.apply_triage()
    assert sorted(p.path for p in atlas.atlas_points if p.key in keys) == sorted(outliers)
    assert sorted(atlas.explorer.samples) == sorted(keys)
    button = atlas.explorer.gallery.cells[0][1]
    assert "◌" in button.description and "outlier" in button.tooltip
