"""`cvd-explorer serve` in Chromium: the Explorer page (one run) and the Compare page (two runs), served by
Voila without a notebook, respond to their sliders and filters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
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
def serve(chromium_path, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``serve(*runs)`` starts ``cvd-explorer serve RUN [RUN]`` on a free loopback port and returns
    its URL; every server started is terminated (its process group) after the test."""
    procs: list[subprocess.Popen] = []

    def start(*runs: Path) -> str:
        port = _free_port()
        log = tmp_path / f"serve-{len(procs)}.log"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
                   JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
        with open(log, "w") as out:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "cvd_explorer", "serve", *map(str, runs), "--port", str(port), "--no-browser"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            ))
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, procs[-1], log)
        return url

    try:
        yield start
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _open_page(browser, url: str, panel: str):
    """A Chromium page on ``url`` once the ``panel`` selector is there, checked to show no code and no errors."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.set_default_timeout(60_000)
    page.goto(url, timeout=180_000)  # Voila runs the page's notebook before answering
    page.wait_for_selector(panel, timeout=180_000)
    # a page, not a notebook: no code, no editor, no menus
    assert not page.locator(".jp-InputArea, .cm-editor, .lm-MenuBar").count()
    assert "from cvd_explorer import" not in page.inner_text("body")
    assert not page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()  # no TF chatter
    return page


def test_served_explorer_slider_changes_the_cam(serve, run_dir, browser, artifacts_dir):
    page = _open_page(browser, serve(run_dir), ".cvd-explorer")
    try:
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


def _srcs(page) -> list[str]:
    return page.eval_on_selector_all(COMPARE_CAMS, "imgs => imgs.map(i => i.src)")


def _wait_both_new(page, before: list[str]) -> list[str]:
    """Wait until both CAM images (run A, run B) differ from ``before`` and have loaded."""
    page.wait_for_function(
        "([sel, before]) => { const imgs = [...document.querySelectorAll(sel)];"
        " return imgs.length === 2 && imgs.every((i, k) => i.src && i.src !== before[k] && i.complete"
        " && i.naturalWidth > 0); }",
        arg=[COMPARE_CAMS, before], timeout=120_000,
    )
    return _srcs(page)


def _expected_cells(run_a: Path, run_b: Path) -> dict[str, int]:
    """Agreement counts computed here from the two runs' predictions.csv (both runs share one split)."""
    import csv

    def correct(run: Path) -> dict[str, bool]:
        with open(run / "predictions.csv", newline="") as f:
            return {row["path"]: row["correct"].strip().lower() in ("1", "true") for row in csv.DictReader(f)}

    a, b = correct(run_a), correct(run_b)
    assert set(a) == set(b)
    pairs = [(a[k], b[k]) for k in a]
    return {"both right": pairs.count((True, True)), "both wrong": pairs.count((False, False)),
            "only A right": pairs.count((True, False)), "only B right": pairs.count((False, True))}


COMPARE_CAMS = "img.cvd-compare-cam"


def test_served_compare_depth_slider_and_agreement_cells(serve, run_dir, run_b, browser, artifacts_dir):
    expected = _expected_cells(run_dir, run_b)
    page = _open_page(browser, serve(run_dir, run_b), ".cvd-compare")
    try:
        srcs = _wait_both_new(page, ["", ""])  # the first shared sample, explained by both models
        assert not page.locator(".cvd-error:visible").count(), page.inner_text(".cvd-error")
        assert "resnet-mini" in page.inner_text(".cvd-compare")  # the results table names both runs' models

        # the relative-depth slider redraws both sides, and their layer labels follow
        handle = page.locator(".cvd-depth .noUi-handle")
        handle.focus()
        labels = [page.inner_text(".cvd-compare-layer-a"), page.inner_text(".cvd-compare-layer-b")]
        page.keyboard.press("Home")  # 100% (the deepest layers) -> 0% (conv1 of both)
        srcs = _wait_both_new(page, srcs)
        page.wait_for_function(
            "labels => document.querySelector('.cvd-compare-layer-a').innerText !== labels[0]"
            " && document.querySelector('.cvd-compare-layer-b').innerText !== labels[1]", arg=labels,
        )
        assert "conv1" in page.inner_text(".cvd-compare-layer-a") and "conv1" in page.inner_text(".cvd-compare-layer-b")

        # each agreement cell filters the gallery to the count computed from predictions.csv
        for title, n in expected.items():
            page.click(f".cvd-agreement button:text-is('{title} ({n:,})')")
            page.wait_for_function(
                "t => (document.querySelector('.cvd-compare-count') || {}).innerText?.includes(t)",
                arg=f"{n:,} {title} of",
            )
            page.wait_for_function(
                "n => [...document.querySelectorAll('.cvd-compare .cvd-thumb')]"
                ".filter(t => t.offsetParent && getComputedStyle(t).visibility !== 'hidden').length === n",
                arg=min(n, 12),  # unused slots keep their place in the grid, hidden
            )
        assert sum(expected.values()) > 0 and expected["both right"] < sum(expected.values())

        # a thumbnail of a non-empty cell: both sides show that image
        title = next(t for t, n in expected.items() if n > 1)
        page.click(f".cvd-agreement button:text-is('{title} ({expected[title]:,})')")
        srcs = _srcs(page)
        page.locator(".cvd-compare .cvd-thumb-button").nth(1).click()
        _wait_both_new(page, srcs)
        page.screenshot(path=str(artifacts_dir / "serve_compare.png"), full_page=True)
    finally:
        page.close()
