"""The Atlas in a real JupyterLab and Chromium, and in the Voila page of `cvd-explorer serve`.

The scatter renders with one point per image (read from the widget's state in the page), a click on a
misclassified point opens that image in the Explorer (its name in the prediction box, a new CAM image),
a box selection filters the gallery to that many images, and a click on a slice of the slices tab
shows exactly that slice's images in the gallery. Screenshot: ``test-artifacts/atlas.png``.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from cvd_explorer.atlas import compute_atlas
from tests.e2e.pages import cam_src, open_and_run_all, wait_new_cam
from tests.e2e.test_serve_browser import serve as serve  # the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CANVAS = ".cvd-atlas canvas"


@pytest.fixture(scope="module")
def atlas_run(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas-browser") / "run"
    shutil.copytree(run_dir, out, ignore=shutil.ignore_patterns("atlas"))
    compute_atlas(out)
    return out


def _notebook(run) -> dict:
    source = ("import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nfrom cvd_explorer import Atlas\n"
              f"atlas = Atlas({str(run)!r})\natlas")
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": "atlas", "metadata": {}, "outputs": [],
                       "source": source}],
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                        "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def _point_count(page) -> int:
    """Points of the drawn scatter: reported once the browser's view has rendered (it sets the
    widget's ``dom_element_id``), from the widget's ``points`` state."""
    page.wait_for_selector(".cvd-atlas-rendered:has-text('points drawn')", timeout=120_000)
    text = page.inner_text(".cvd-atlas-rendered")
    return int(re.match(r"\s*([\d,]+) points", text).group(1).replace(",", ""))


def _canvas_xy(page, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of embedding point (x, y) in [0, 1] (the scatter's domain is [-0.02, 1.02])."""
    box = page.locator(CANVAS).first.bounding_box()
    fx, fy = (x + 0.02) / 1.04, (y + 0.02) / 1.04
    return box["x"] + fx * box["width"], box["y"] + (1 - fy) * box["height"]


def _click(page, x: float, y: float) -> None:
    """A click as a person makes it: the pointer comes to the point, then presses (the scatter picks
    the point under a hovering pointer)."""
    page.mouse.move(x, y, steps=3)
    page.wait_for_timeout(300)
    page.mouse.click(x, y, delay=80)


def test_atlas_in_jupyterlab(lab, browser, atlas_run, artifacts_dir):
    from cvd_explorer.atlas import find_atlas
    from cvd_explorer.runs import Run

    atlas_data = find_atlas(Run(atlas_run))
    rows = atlas_data.rows
    (lab.root / "atlas.ipynb").write_text(json.dumps(_notebook(atlas_run)))
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.set_default_timeout(60_000)
    try:
        open_and_run_all(page, lab.notebook_url("atlas.ipynb"))
        page.wait_for_selector(CANVAS, timeout=120_000)
        assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()
        assert _point_count(page) == len(rows)
        page.wait_for_timeout(1500)  # the first frame of the WebGL canvas

        # a click on a misclassified point: the Explorer opens that image
        wrong = next(r for r in rows if not r.correct)
        x, y = _canvas_xy(page, wrong.x, wrong.y)
        _click(page, x, y)
        name = wrong.path.rsplit("/", 1)[-1]
        page.wait_for_selector(".cvd-explorer", timeout=180_000)
        page.wait_for_function("n => (document.querySelector('.cvd-prediction') || {}).innerText?.includes(n)",
                               arg=name, timeout=180_000)
        first = wait_new_cam(page, "", timeout=180_000)
        other = next(r for r in rows if not r.correct and abs(r.x - wrong.x) + abs(r.y - wrong.y) > 0.1)
        _click(page, *_canvas_xy(page, other.x, other.y))
        other_name = other.path.rsplit("/", 1)[-1]
        page.wait_for_function("n => document.querySelector('.cvd-prediction').innerText.includes(n)",
                               arg=other_name, timeout=120_000)
        assert wait_new_cam(page, first, timeout=120_000) != first

        # a box selection over the left half of the canvas: the gallery shows as many images as it selected
        page.click(".cvd-atlas-mode button:text-is('box select')")
        page.wait_for_timeout(500)
        box = page.locator(CANVAS).first.bounding_box()
        x0, y0 = box["x"] + 2, box["y"] + 2
        x1, y1 = box["x"] + box["width"] / 2, box["y"] + box["height"] - 2
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
        page.mouse.move(x1, y1, steps=5)
        page.mouse.up()
        page.wait_for_function(
            "() => { const m = /^\\s*([\\d,]+) selected/.exec("
            "(document.querySelector('.cvd-atlas-selection') || {}).innerText || '');"
            " return m && +m[1].replace(/,/g, '') > 1; }", timeout=60_000)
        page.wait_for_timeout(1000)
        selected = int(re.match(r"\s*([\d,]+) selected", page.inner_text(".cvd-atlas-selection")).group(1))
        count = page.inner_text(".cvd-count").strip()
        assert 1 < selected < len(rows), count
        assert count.startswith(f"{selected:,} images of {len(rows):,} (atlas selection: {selected:,})"), count
        assert cam_src(page)

        # the slices tab: a click on the first slice shows exactly its images in the Explorer's gallery
        assert atlas_data.slices, "the small run's atlas should find an underperforming slice"
        first = atlas_data.slices[0]
        names = {path.rsplit("/", 1)[-1] for path in first["paths"]}
        page.click(".cvd-atlas-tabs .lm-TabBar-tab:has-text('slices'), "
                   ".cvd-atlas-tabs .p-TabBar-tab:has-text('slices')")
        page.click(".cvd-atlas-slice:has-text('select slice 1')")
        expected = f"{len(names):,} images of {len(rows):,} (atlas selection: {len(names):,})"
        page.wait_for_function("t => (document.querySelector('.cvd-count') || {}).innerText?.trim().startsWith(t)",
                               arg=expected, timeout=60_000)
        page.wait_for_timeout(1000)
        titles = page.eval_on_selector_all(
            ".cvd-thumb-button", "els => els.filter(e => e.offsetParent !== null).map(e => e.title)")
        shown = {t.split(":", 1)[0] for t in titles if t}
        assert shown and shown <= names and len(shown) == min(len(names), 12), (shown, names)
        assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()
        page.locator(".cvd-atlas").screenshot(path=str(artifacts_dir / "atlas.png"))
    except BaseException:
        page.screenshot(path=str(artifacts_dir / "atlas-failure.png"), full_page=True)
        raise
    finally:
        page.close()


def test_atlas_in_the_voila_page(serve, atlas_run, browser, artifacts_dir):
    from tests.e2e.test_serve_browser import _open_page

    page = _open_page(browser, serve(atlas_run), ".cvd-explorer")
    try:
        page.click(".lm-TabBar-tab:has-text('Atlas'), .widget-tab .p-TabBar-tab:has-text('Atlas')")
        page.wait_for_selector(CANVAS, timeout=120_000)
        from cvd_explorer.atlas import find_atlas
        from cvd_explorer.runs import Run

        assert _point_count(page) == len(find_atlas(Run(atlas_run)).rows)
        page.screenshot(path=str(artifacts_dir / "serve_atlas.png"), full_page=True)
    finally:
        page.close()
