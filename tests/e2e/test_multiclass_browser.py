"""notebooks/04_multiclass.ipynb in a real JupyterLab and Chromium, on a tiny 4-class example: it runs
top to bottom with no error and no stderr, into an Explorer (with the K-class target picker and the
confusion matrix above the gallery), an Atlas and a Compare panel.

The notebook runs on the folders of the session's first execution (tests/multiclass_fixtures.py), as a
user running it again: it reuses the images, both finished runs and the current atlas (checked: no
file of theirs changes), so this test trains nothing itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from tests.e2e.conftest import REPO
from tests.e2e.pages import open_and_run_all, wait_new_cam
from tests.multiclass_fixtures import NAME, TINY, MulticlassNotebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLASSES = ["cat", "dog", "fox", "rabbit"]


def _tiny_copy(root: Path, data: Path, runs: Path) -> None:
    """The committed notebook with its parameters cell set to the tiny example (as papermill would)."""
    nb = nbformat.read(REPO / "notebooks" / NAME, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values = dict(DATA=str(data), RUNS=str(runs), IMAGES=TINY["CVD_MC_IMAGES"], SIZE=TINY["CVD_MC_SIZE"],
                  EPOCHS=TINY["CVD_MC_EPOCHS"], STEPS=TINY["CVD_MC_STEPS"])
    cell.source = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    nbformat.write(nb, root / NAME)


def _written(runs: Path) -> dict[str, int]:
    """Modification times (ns) of what training and the atlas pass wrote: models, histories, summaries,
    predictions and every atlas file."""
    names = ("model.keras", "history.csv", "summary.json", "predictions.csv")
    files = [p for p in runs.rglob("*") if p.is_file() and (p.name in names or "atlas" in p.parts)]
    return {str(p.relative_to(runs)): p.stat().st_mtime_ns for p in files}


def _target_options(page) -> list[str]:
    """The options of the Explorer's target picker (the select offering "predicted")."""
    lists = page.eval_on_selector_all(
        ".cvd-explorer select", "ss => ss.map(s => [...s.options].map(o => o.textContent.trim()))")
    return next(options for options in lists if "predicted" in options)


def test_multiclass_notebook_in_jupyterlab(lab, browser, multiclass_notebook: MulticlassNotebook, artifacts_dir):
    runs = multiclass_notebook.runs
    before = _written(runs)
    assert any("atlas" in name for name in before) and "a/model.keras" in before and "b/model.keras" in before
    _tiny_copy(lab.root, multiclass_notebook.data, runs)
    page = browser.new_page(viewport={"width": 1500, "height": 2400})
    page.set_default_timeout(60_000)
    try:
        open_and_run_all(page, lab.notebook_url(NAME))
        page.wait_for_selector(".cvd-compare", timeout=240_000)  # the last cell: everything above ran
        page.wait_for_selector(".cvd-explorer")
        page.wait_for_selector(".cvd-atlas .cvd-atlas-tabs")  # the map and its tabs: the atlas is shown
        wait_new_cam(page, "", timeout=180_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
            ".every(p => /\\[\\d+\\]/.test(p.innerText))", timeout=180_000,
        )
        page.wait_for_selector(".cvd-compare .cvd-compare-count:has-text('images')")
        assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()
        assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count()
        shown = page.locator(".cvd-error:visible")
        assert not shown.count(), shown.all_inner_texts()
        text = page.inner_text(".jp-NotebookPanel")
        assert "a: test accuracy" in text and "b: test accuracy" in text

        # K classes in the Explorer: "why fox?" is a target, and the 4x4 confusion matrix sits above the
        # gallery with the counts of the run's summary
        assert _target_options(page)[-4:] == CLASSES
        grid = page.locator(".cvd-explorer .cvd-confusion-grid")
        assert grid.is_visible()
        assert grid.bounding_box()["y"] < page.locator(".cvd-explorer .cvd-gallery").bounding_box()["y"]
        counts = [int(t) for t in page.locator(".cvd-explorer .cvd-confusion-cell").all_inner_texts()]
        summary = json.loads((runs / "a" / "summary.json").read_text())
        assert counts == [n for row in summary["confusion_matrix"] for n in row]
        # compact, beside the class names, and no column name clipped
        right = max(b["x"] + b["width"] for b in
                    (c.bounding_box() for c in page.locator(".cvd-explorer .cvd-confusion-cell").all()))
        assert right - grid.bounding_box()["x"] < 400
        clipped = page.eval_on_selector_all(
            ".cvd-explorer .cvd-confusion-grid b[title='predicted']",
            "bs => bs.filter(b => b.parentElement.scrollWidth > b.parentElement.clientWidth).map(b => b.innerText)")
        assert clipped == []

        # nothing trained or computed again: the runs and the atlas of the first execution were reused
        assert _written(runs) == before

        # the pictures a user looks at have arrived: the depth strip and both sides of Compare
        page.wait_for_function(
            "() => { const imgs = [...document.querySelectorAll('img.cvd-strip, img.cvd-compare-cam')];"
            " return imgs.length >= 3 && imgs.every(i => i.complete && i.naturalWidth > 0); }", timeout=180_000)
        page.locator(".cvd-explorer").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "multiclass.png"), full_page=True)
        page.locator(".cvd-atlas").screenshot(path=str(artifacts_dir / "multiclass-atlas.png"))
        page.locator(".cvd-compare").screenshot(path=str(artifacts_dir / "multiclass-compare.png"))
    finally:
        page.close()
