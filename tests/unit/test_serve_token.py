"""`cvd-explorer serve` off loopback needs a token: real HTTP requests to a real Voila server.

The argument checks run without a server; the server tests start `serve` on the small trained run
(``run_dir``), so they are slow.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cvd_explorer.cli import main
from cvd_explorer.cli.serve import is_loopback, page_token, page_url, voila_command, voila_env
from cvd_explorer.errors import CvdError
from tests.unit.serve_fixtures import Server, get, serving


@pytest.mark.parametrize(("ip", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("LOCALHOST", True), ("127.3.2.1", True), ("::1", True),
    ("0.0.0.0", False), ("", False), ("::", False), ("192.168.1.20", False), ("myhost.example", False),
])
def test_is_loopback(ip: str, loopback: bool) -> None:
    assert is_loopback(ip) is loopback


def test_a_network_address_gets_a_new_random_token_and_loopback_none() -> None:
    first, second = page_token("0.0.0.0", None, False), page_token("0.0.0.0", None, False)
    assert first and second and first != second and re.fullmatch(r"[0-9a-f]{48}", first)
    assert page_token("127.0.0.1", None, False) is None  # loopback stays as it was: no token
    assert page_token("127.0.0.1", "abc", False) == "abc"  # a token may be asked for on loopback too
    assert page_token("0.0.0.0", "abc", False) == "abc"
    assert page_token("localhost", None, True) is None


@pytest.mark.parametrize("ip", ["0.0.0.0", "", "192.168.1.20"])
def test_no_token_off_loopback_is_refused(ip: str) -> None:
    with pytest.raises(CvdError, match="--no-token is allowed only with --ip 127.0.0.1 or localhost"):
        page_token(ip, None, True)


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(CvdError, match="--token is empty"):
        page_token("0.0.0.0", " ", False)


def test_cli_refuses_no_token_on_all_addresses_before_looking_at_the_run(tmp_path: Path, capsys) -> None:
    assert main(["serve", str(tmp_path / "no-such-run"), "--ip", "0.0.0.0", "--no-token"]) == 2
    err = capsys.readouterr().err
    assert "--no-token is allowed only with --ip 127.0.0.1 or localhost" in err and "no-such-run" not in err


def test_cli_refuses_token_with_no_token(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):  # argparse: mutually exclusive
        main(["serve", str(tmp_path), "--token", "abc", "--no-token"])


def test_the_token_goes_to_voila_through_its_environment_not_its_command_line(monkeypatch) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "from-the-user-shell")
    cmd = voila_command(Path("/tmp/page.ipynb"), 8866, "0.0.0.0", True, token=True)
    assert "--Voila.auto_token=True" in cmd and not any("secret" in c for c in cmd)
    assert voila_env("secret")["JUPYTER_TOKEN"] == "secret"
    assert "JUPYTER_TOKEN" not in voila_env(None)  # no stray token from the shell on loopback
    assert "--Voila.auto_token=True" not in voila_command(Path("/tmp/page.ipynb"), None, "127.0.0.1", True)


def test_page_url() -> None:
    assert page_url("127.0.0.1", 9000, None) == "http://127.0.0.1:9000/"
    assert page_url("127.0.0.1", None, "t0k") == "http://127.0.0.1:8866/?token=t0k"
    assert page_url("0.0.0.0", 9000, "t0k") == f"http://{socket.gethostname()}:9000/?token=t0k"
    assert page_url("::1", 9000, "t0k") == "http://[::1]:9000/?token=t0k"



# --- a real server ---------------------------------------------------------------------------------------------


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``serve(run, *flags)``: a `cvd-explorer serve` process, stopped after the test."""
    with serving(tmp_path) as start:
        yield start


def _is_the_app(body: str) -> bool:
    """Whether a page is the served panel: Voila's page with the executed cell's widget output."""
    return "application/vnd.jupyter.widget-view+json" in body


def _refused(port: int, path: str) -> None:
    """``path`` without a valid token: 401/403, or a redirect to the login page; never the app."""
    status, headers, body = get(port, path)
    assert status in (302, 401, 403), (path, status)
    if status == 302:
        assert headers["location"].split("?")[0].endswith("/login"), headers["location"]
    assert not _is_the_app(body) and "cvd_explorer" not in body


def test_serve_on_all_addresses_needs_its_generated_token(serve, run_dir: Path) -> None:
    server = serve(run_dir, "--ip", "0.0.0.0")
    url = server.url()
    assert url.startswith(f"http://{socket.gethostname()}:{server.port}/?token=")
    token = url.split("?token=", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{48}", token)

    for path in ("/", "/?token=wrong", "/api/kernels", "/voila/api/shutdown/x"):
        _refused(server.port, path)

    status, _, body = get(server.port, f"/?token={token}")  # Voila runs the page's notebook, then answers
    assert status == 200 and _is_the_app(body), body[-2000:]
    assert not re.search(r"Traceback|Error", body.split("application/vnd.jupyter.widget-view+json")[1][:500])

    assert server.output().count(token) == 1  # only the URL line shows it (Voila's own log prints "...")
    for path in run_dir.rglob("*"):  # and nothing in the run folder holds it
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_serve_on_loopback_with_a_given_token_needs_it(serve, run_dir: Path) -> None:
    server = serve(run_dir, "--ip", "127.0.0.1", "--token", "a-given-token")
    assert server.url() == f"http://127.0.0.1:{server.port}/?token=a-given-token"
    _refused(server.port, "/")
    _refused(server.port, "/?token=a-given-toke")
    status, _, body = get(server.port, "/?token=a-given-token")
    assert status == 200 and _is_the_app(body), body[-2000:]
