"""`cvd-explorer serve RUN` in Chromium: the Explorer page (Voila, no notebook) responds to the slider."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, _free_port
from tests.e2e.pages import cam_src, wait_new_cam

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"serve did not answer within {timeout:.0f} s: {log.read_text()[-3000:]}")


@pytest.fixture
def served(chromium_path, run_dir: Path, tmp_path: Path) -> Iterator[str]:
    """``cvd-explorer serve RUN`` on a free loopback port; always terminated (its process group)."""
    port = _free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cvd_explorer", "serve", str(run_dir), "--port", str(port), "--no-browser"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_served_explorer_slider_changes_the_cam(served, browser, artifacts_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.set_default_timeout(60_000)
    try:
        page.goto(served, timeout=180_000)  # Voila runs the page's notebook before answering
        page.wait_for_selector(".cvd-explorer", timeout=180_000)
        # a page, not a notebook: no code, no editor, no menus
        assert not page.locator(".jp-InputArea, .cm-editor, .lm-MenuBar").count()
        assert "from cvd_explorer import" not in page.inner_text("body")
        assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()  # no TF chatter
        wait_new_cam(page, "", timeout=180_000)  # the first sample, explained in the kernel's worker
        assert not page.locator(".cvd-error:visible").count(), page.inner_text(".cvd-error")

        handle = page.locator(".cvd-layer .noUi-handle")
        handle.focus()
        before = cam_src(page)
        page.keyboard.press("Home")  # the Explorer opens on the deepest layer; go to the first
        before = wait_new_cam(page, before)
        for _ in range(2):
            label = page.inner_text(".cvd-layer-label")
            page.keyboard.press("ArrowRight")
            after = wait_new_cam(page, before)
            assert after != before
            page.wait_for_function(
                "label => document.querySelector('.cvd-layer-label').innerText !== label", arg=label
            )
            before = after
        page.screenshot(path=str(artifacts_dir / "serve_explorer.png"), full_page=True)
    finally:
        page.close()
