"""notebooks/04_multiclass.ipynb in a real JupyterLab and Chromium, on a tiny 4-class example: it runs
top to bottom with no error and no stderr, into an Explorer (with the K-class target picker and the
confusion matrix), an Atlas and a Compare panel."""

from __future__ import annotations

import json

import nbformat

from tests.e2e.conftest import REPO
from tests.e2e.pages import open_and_run_all, wait_new_cam
from tests.notebooks.test_multiclass_notebook import TINY

NAME = "04_multiclass.ipynb"


def _tiny_copy(root, data, runs) -> None:
    """The committed notebook with its parameters cell set to the tiny example (as papermill would)."""
    nb = nbformat.read(REPO / "notebooks" / NAME, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values = dict(DATA=str(data), RUNS=str(runs), IMAGES=TINY["CVD_MC_IMAGES"], SIZE=TINY["CVD_MC_SIZE"],
                  EPOCHS=TINY["CVD_MC_EPOCHS"], STEPS=TINY["CVD_MC_STEPS"])
    cell.source = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    nbformat.write(nb, root / NAME)


def test_multiclass_notebook_in_jupyterlab(lab, browser, tmp_path, artifacts_dir):
    _tiny_copy(lab.root, tmp_path / "data", tmp_path / "runs")
    page = browser.new_page(viewport={"width": 1500, "height": 2400})
    page.set_default_timeout(60_000)
    try:
        open_and_run_all(page, lab.notebook_url(NAME))
        page.wait_for_selector(".cvd-compare", timeout=420_000)  # the last cell: everything above ran
        page.wait_for_selector(".cvd-explorer")
        page.wait_for_selector(".cvd-atlas")
        wait_new_cam(page, "", timeout=180_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
            ".every(p => /\\[\\d+\\]/.test(p.innerText))", timeout=180_000,
        )
        assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()
        assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count()
        assert not page.locator(".cvd-error:visible").count(), page.inner_text(".cvd-error")
        text = page.inner_text(".jp-NotebookPanel")
        for name in ("cat", "dog", "fox", "rabbit"):
            assert name in text
        page.screenshot(path=str(artifacts_dir / "multiclass.png"), full_page=True)
    finally:
        page.close()
