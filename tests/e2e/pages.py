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


def accept_kernel_dialog(page, seconds: float = 3.0) -> None:
    """Accept JupyterLab's "Select Kernel" dialog (the notebook's python3) if it shows up."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        dialog.wait_for(state="visible", timeout=seconds * 1000)
    except Exception:
        return
    dialog.click()
    page.locator(".jp-Dialog").wait_for(state="detached")


def run_all_cells(page) -> None:
    """Run > Run All Cells once the kernel is idle; again if a just-started kernel dropped it."""
    for attempt in range(3):
        accept_kernel_dialog(page)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
        accept_kernel_dialog(page)
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        try:  # the parameter cell gets a prompt number, or [*] while queued
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                ".some(p => /\\[(\\d+|\\*)\\]/.test(p.innerText))",
                timeout=15_000,
            )
            return
        except Exception:
            if attempt == 2:
                raise


def open_and_run_all(page, url: str) -> None:
    """Open a notebook in JupyterLab and run all its cells."""
    page.goto(url)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    run_all_cells(page)
