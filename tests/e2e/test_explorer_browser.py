"""The demo notebook in a real JupyterLab and Chromium: the Explorer renders and responds.

The screenshot goes to ``test-artifacts/explorer.png``. With ``CVD_E2E_RUN=demo-runs/resnet-mini``
(after ``make demo``) the test runs on the demo's run and also refreshes ``docs/explorer.png``,
the README's picture; the suite's own tiny run would make a poor one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics

from cvd_explorer.runs.run import Run
from tests.e2e.conftest import REPO
from tests.e2e.pages import cam_src, open_and_run_all, wait_new_cam

# Records when the CAM <img> gets a new, decoded image (ipywidgets sets src to a blob: URL).
WATCH_CAM = """
() => {
  const img = document.querySelector('img.cvd-cam');
  window.__camChanges = [];
  const note = () => {
    if (img.complete && img.naturalWidth > 0) window.__camChanges.push([performance.now(), img.src]);
  };
  new MutationObserver(() => { if (img.complete) note(); else img.addEventListener('load', note, {once: true}); })
    .observe(img, {attributes: true, attributeFilter: ['src']});
}
"""


def test_explorer_in_jupyterlab(lab, browser, run_dir, artifacts_dir):
    rows = Run(run_dir).predictions
    wrong = sum(not r["correct"] for r in rows)
    page = browser.new_page(viewport={"width": 1500, "height": 1900})
    page.set_default_timeout(60_000)
    try:
        open_and_run_all(page, lab.notebook_url("00_demo.ipynb"))

        page.wait_for_selector(".cvd-explorer", timeout=90_000)
        wait_new_cam(page, "", timeout=120_000)  # the first sample explained in the kernel's worker thread
        assert not page.locator(".cvd-error:visible").count(), page.inner_text(".cvd-error")

        # layer slider: each arrow key gives a new CAM image; time key press -> decoded image
        page.evaluate(WATCH_CAM)
        handle = page.locator(".cvd-layer .noUi-handle")
        handle.focus()
        before = cam_src(page)
        page.keyboard.press("Home")  # from the deepest conv layer (1x1 maps here) to the first
        wait_new_cam(page, before)
        assert page.inner_text(".cvd-layer-label").startswith("conv1_conv · 1/")
        latencies = []
        for _ in range(4):
            before = cam_src(page)
            label = page.inner_text(".cvd-layer-label")
            t0 = page.evaluate("performance.now()")
            page.keyboard.press("ArrowRight")
            after = wait_new_cam(page, before)
            assert after != before
            t1 = page.evaluate("src => (window.__camChanges.find(c => c[1] === src) || [performance.now()])[0]", after)
            latencies.append(t1 - t0)
            assert page.inner_text(".cvd-layer-label") != label

        # misclassified filter: the count shown is the run's
        page.click(".cvd-filter button:text-is('misclassified')")
        page.wait_for_function(
            "() => (document.querySelector('.cvd-count') || {}).innerText?.includes('misclassified of')"
        )
        shown = page.inner_text(".cvd-count")
        count = int(re.match(r"\s*([\d,]+) misclassified of", shown).group(1).replace(",", ""))
        assert count == wrong > 0, shown

        # clicking a thumbnail: prediction panel and views follow
        thumb = page.locator(".cvd-thumb-button").nth(1)
        name = thumb.get_attribute("title").split(":")[0]
        before = cam_src(page)
        thumb.click()
        page.wait_for_function(
            "name => document.querySelector('.cvd-prediction').innerText.includes(name)", arg=name
        )
        wait_new_cam(page, before)
        assert "misclassified" in page.inner_text(".cvd-prediction")
        page.wait_for_function(
            "() => { const i = document.querySelector('img.cvd-strip'); return i && i.naturalWidth > 0; }"
        )

        shot = artifacts_dir / "explorer.png"
        page.locator(".cvd-explorer").screenshot(path=str(shot))
        if os.environ.get("CVD_E2E_RUN"):  # a real run (the demo's): refresh the README's picture
            (REPO / "docs").mkdir(exist_ok=True)
            shutil.copy(shot, REPO / "docs" / "explorer.png")
        (artifacts_dir / "explorer_latency.json").write_text(json.dumps({
            "browser_key_to_image_ms_median": round(statistics.median(latencies), 1),
            "browser_key_to_image_ms": [round(v, 1) for v in latencies],
            "browser": "chromium", "run": str(run_dir),
        }, indent=2))
    except BaseException:
        page.screenshot(path=str(artifacts_dir / "explorer-failure.png"))
        raise
    finally:
        page.close()
