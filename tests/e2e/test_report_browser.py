"""The report opens in Chromium with every figure present: each image loads and is not blank."""

from __future__ import annotations

import pytest

# For each <img>: loaded size, and the variance of its pixels drawn on a canvas (0 = blank).
IMAGE_STATS = """
() => Array.from(document.images).map(img => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  let variance = 0;
  if (img.naturalWidth > 0) {
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0, sum2 = 0, n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const v = d[i] + d[i + 1] + d[i + 2];
      sum += v; sum2 += v * v; n += 1;
    }
    variance = sum2 / n - (sum / n) ** 2;
  }
  return {id: img.closest("figure").id, alt: img.alt, width: img.naturalWidth, complete: img.complete, variance};
})
"""


@pytest.mark.slow
def test_report_opens_with_every_figure(browser, built_report, artifacts_dir):
    figure_files = sorted(p.stem for p in (built_report.page.parent / "figures").glob("*.png"))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(built_report.page.as_uri(), wait_until="load")
        page.wait_for_function("Array.from(document.images).every(img => img.complete)", timeout=30_000)
        stats = page.evaluate(IMAGE_STATS)
        page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
        assert sorted(s["id"] for s in stats) == figure_files
        for s in stats:
            assert s["width"] > 0, f"{s['id']} did not load"
            assert s["variance"] > 0, f"{s['id']} is blank"
            assert s["alt"]
        assert page.title().startswith("Where does the CNN look?")
        assert page.locator("text=As reported by the reference study (not reproduced here)").count() == 1
        assert errors == []
    finally:
        page.close()
