"""The Explorer's "more like this" (issue 18): with the run's atlas, the selected image and its nearest images
in the gallery with their distances on the badges, and a clear button back to the view before."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cvd_explorer.atlas import find_atlas
from cvd_explorer.runs import Run
from cvd_explorer.widgets import Explorer
from cvd_explorer.widgets.explorer_similar import NO_ATLAS
from tests.widgets import test_atlas_panel

atlas_run = test_atlas_panel.atlas_run  # a copy of the small run with its test atlas (a module fixture)


def test_more_like_this_fills_the_gallery_and_clears_back(atlas_run: Path) -> None:
    run = Run(atlas_run)
    atlas = find_atlas(run)
    assert atlas is not None
    key_of = {r["relpath"]: r["path"] for r in run.predictions or []}
    ex = Explorer(atlas_run, background=False)
    assert not ex.similar.button.disabled and "cosine distance" in ex.similar.button.tooltip
    ex.filter.value = "misclassified"
    ex.set_badges(lambda row: ("⚑", "flagged") if row.label == "cat" else ("", ""))  # as the Atlas's triage
    before = (list(ex.samples), ex.count.value)
    query = ex.samples[1]
    ex.sample = query
    relpath = next(rel for rel, path in key_of.items() if path == query)

    ex.similar.button.click()
    nearest = atlas.similar(relpath, k=10)
    assert ex.error.value == ""
    assert ex.samples == [query, *(key_of[p] for p, _ in nearest)]  # the query first, then nearest first
    assert ex.filter.value == "all" and ex.sort.value == "selection" and ex.sample == query
    assert ex.count.value == f"<b>11 images of {len(key_of)} (similar images: 11)</b>"
    badges = [button.description for _, button in ex.gallery.cells[: ex.gallery.per_page]]
    assert badges[0].startswith("query")
    for (path, distance), text in zip(nearest, badges[1:], strict=False):
        assert text.startswith(f"≈{distance:.3f}")
        flagged = ex.session.row(key_of[path]).label == "cat"
        assert ("⚑" in text) == flagged  # the marks before stay on the badges
    assert "cosine distance" in ex.gallery.cells[1][1].tooltip

    ex.similar.clear.click()
    assert (list(ex.samples), ex.count.value) == before and ex.filter.value == "misclassified"
    assert ex.sort.value == "name" and ex.similar.clear.disabled
    assert not any(b.description.startswith("≈") for _, b in ex.gallery.cells)

    ex.more_like_this(k=3)
    assert len(ex.samples) == 4 and ex.similar.active
    chosen = list(key_of.values())[:5]
    ex.restrict(chosen, order="selection")  # an Atlas selection replaces the similar images
    assert not ex.similar.active and "atlas selection: 5" in ex.count.value and ex.similar.clear.disabled
    ex.close()


def test_more_like_this_is_disabled_without_an_atlas(run_dir: Path, tmp_path: Path) -> None:
    out = Path(shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("atlas")))
    ex = Explorer(out, background=False)
    assert ex.similar.button.disabled and ex.similar.button.tooltip == NO_ATLAS
    assert "cvd-explorer atlas RUN" in ex.similar.button.tooltip
    with pytest.raises(ValueError, match="cvd-explorer atlas RUN"):
        ex.more_like_this()
    ex.close()
