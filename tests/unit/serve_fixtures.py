"""A `cvd-explorer serve` process for the token tests (tests/unit/test_serve_token.py and the browser check in
tests/e2e/test_serve_token_browser.py): started on a free port, polled until it answers, always stopped."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(r"^open (http://\S+)$", re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, timeout: float = 300) -> tuple[int, dict[str, str], str]:
    """GET ``path`` from 127.0.0.1:``port`` without following redirects: status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Server:
    """A `cvd-explorer serve` process, its port and its output so far."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_up(self, timeout: float = 120) -> None:
        """Poll until the server answers any HTTP request."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited ({self.proc.returncode}): {self.output()[-3000:]}")
            try:
                get(self.port, "/login", timeout=5)
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"serve did not answer within {timeout:.0f} s: {self.output()[-3000:]}")

    def url(self) -> str:
        found = URL_LINE.findall(self.output())
        assert len(found) == 1, self.output()[-3000:]
        return str(found[0])


@contextmanager
def serving(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start(run, *flags)`` starts ``cvd-explorer serve RUN --port P --no-browser *flags`` on a free port and
    waits until it answers; every server started is stopped (its process group) on leaving the block."""
    servers: list[Server] = []

    def start(run: Path, *flags: str) -> Server:
        port = _free_port()
        log = tmp_path / f"serve-{len(servers)}.log"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO),
                   JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cvd_explorer", "serve", str(run), "--port", str(port), "--no-browser", *flags],
                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        servers.append(Server(proc, port, log))
        servers[-1].wait_up()
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            if server.proc.poll() is None:
                os.killpg(server.proc.pid, signal.SIGTERM)
                try:
                    server.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.proc.pid, signal.SIGKILL)
                    server.proc.wait()
