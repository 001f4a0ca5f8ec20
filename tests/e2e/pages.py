"""Page helpers shared by the browser tests."""

from __future__ import annotations

CAM_IMG = "img.cvd-cam"


def cam_src(page) -> str:
    """The CAM image's current ``src`` (a data URL: it changes whenever the image does)."""
    return page.eval_on_selector(CAM_IMG, "img => img.src")


def wait_new_cam(page, before: str, timeout: float = 60_000) -> str:
    """Wait until the CAM image shows something other than ``before`` and has loaded; its new src."""
    page.wait_for_function(
        "before => { const i = document.querySelector('img.cvd-cam');"
        " return i && i.src && i.src !== before && i.complete && i.naturalWidth > 0; }",
        arg=before, timeout=timeout,
    )
    return cam_src(page)
