"""Browser fixtures: a JupyterLab server on a free loopback port and Debian's Chromium via Playwright.

Playwright cannot download its own browsers here; it drives ``/usr/bin/chromium``. Without it
the tests skip with the install command, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cvd_explorer.cli.serve import stop_process

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
REPO = Path(__file__).resolve().parents[2]


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: browser tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Path of Debian's Chromium; skips (fails under CI=true) when it or Playwright is missing."""
    if not CHROMIUM.exists():
        _missing("browser tests need Chromium at /usr/bin/chromium: apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("browser tests need Playwright for Python: pip install playwright")
    return CHROMIUM


@dataclass
class Lab:
    """A running JupyterLab: base ``url``, ``token`` and the served ``root`` folder."""

    url: str
    token: str
    root: Path

    def notebook_url(self, name: str) -> str:
        """The notebook in a fresh JupyterLab workspace (``reset``): tabs an earlier test left open in
        the same server are not restored, so the page holds this notebook alone."""
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab(chromium_path, run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab serving a copy of notebooks/00_demo.ipynb (autosave never touches the repo's),
    with ``$CVD_DEMO_RUN`` pointing at the small run; always terminated."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(REPO / "notebooks" / "00_demo.ipynb", root / "00_demo.ipynb")
    home = tmp_path_factory.mktemp("jupyter-home")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        CVD_DEMO_RUN=str(run_dir),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
    )
    no_news = home / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    no_news.parent.mkdir(parents=True)
    no_news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no news toast over the panel
    with open(home / "lab.log", "w") as log:  # the server keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            ],
            env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({proc.returncode}): {(home / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("JupyterLab did not answer within 90 s")
            time.sleep(0.5)
        yield Lab(url, token, root)
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def browser(chromium_path: Path):
    """A headless Chromium controlled by Playwright (per module: Playwright's sync API allows one
    instance at a time, and other browser tests may start their own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
