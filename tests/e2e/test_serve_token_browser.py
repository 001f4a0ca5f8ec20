"""`cvd-explorer serve --ip 0.0.0.0` in Chromium: without the token the browser gets the login page, never the
panel; with the URL's token the Explorer works (its kernel's websocket is authenticated: the slider redraws)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.pages import cam_src, wait_new_cam
from tests.unit.serve_fixtures import Server, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def serve(chromium_path: Path, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    with serving(tmp_path) as start:
        yield start


def test_served_page_on_all_addresses_needs_the_token(serve, run_dir: Path, browser) -> None:
    server = serve(run_dir, "--ip", "0.0.0.0")
    token = server.url().split("?token=", 1)[1]
    base = f"http://127.0.0.1:{server.port}/"

    stranger = browser.new_context()  # no cookie: a visitor without the token
    try:
        page = stranger.new_page()
        page.goto(base, timeout=60_000)
        page.wait_for_selector("input[type=password]", timeout=60_000)  # the login form asks for the token
        assert "/login" in page.url and not page.locator(".cvd-explorer").count()
    finally:
        stranger.close()

    owner = browser.new_context()
    try:
        page = owner.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{base}?token={token}", timeout=180_000)
        page.wait_for_selector(".cvd-explorer", timeout=180_000)
        before = wait_new_cam(page, "", timeout=180_000)  # drawn by the kernel, through the websocket
        page.locator(".cvd-layer .noUi-handle").focus()
        page.keyboard.press("Home")
        assert wait_new_cam(page, before) != before
        assert cam_src(page)
    finally:
        owner.close()
