"""`cvd-explorer serve`: the Explorer with the Atlas (one run) or Compare (two runs) as a web page, without
notebooks."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeAlias

# What signal.signal returns: a previous handler, SIG_DFL/SIG_IGN, or None (not set from Python).
SignalHandler: TypeAlias = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

NAME = "serve"
HELP = "serve the Explorer and Atlas (one run) or Compare (two runs) as a web page, without the notebook interface"
ORDER = 70
DESCRIPTION = """\
Opens a page with only the panel, no code and no notebook, served by Voila (a Jupyter kernel
behind the page computes the views). One run gives the Explorer and, in a second tab, its Atlas
(the embedding map of the test split, with a button to compute it when the run has none); two
runs give the Compare panel.

On 127.0.0.1 (the default) the page is open to anyone on this machine, as before. On any other
address (--ip 0.0.0.0 exposes the model, the images and a Python kernel to the network) the page
needs a token, the way Jupyter does: a random one unless --token is given, printed in the URL
(http://HOST:PORT/?token=...); a request without it gets the login page, never the app.

examples:
  cvd-explorer serve runs/resnet50
  cvd-explorer serve runs/resnet50 runs/resnet101 --port 8866 --no-browser
  cvd-explorer serve runs/resnet50 --ip 0.0.0.0 --port 8866 --no-browser
"""

DEFAULT_PORT = 8866  # Voila's
LOOPBACK_NAMES = ("localhost",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``serve``."""
    parser.add_argument("runs", nargs="+", metavar="RUN", help="one run directory (Explorer) or two (Compare)")
    parser.add_argument("--port", type=int, default=None, help="port of the page (default: Voila's, 8866)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--data-root", metavar="DIR", help="image folder of runs copied from another machine")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    access = parser.add_mutually_exclusive_group()
    access.add_argument("--token", metavar="TOKEN", default=None,
                        help="token the page asks for (default: a random one on any address other than loopback; "
                             "none on 127.0.0.1/localhost)")
    access.add_argument("--no-token", action="store_true",
                        help="serve without a token: allowed only with --ip 127.0.0.1 or localhost")


def is_loopback(ip: str) -> bool:
    """Whether ``ip`` (an address or host name given to ``--ip``) listens on this machine only."""
    if ip.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(ip.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or "": it may be reachable from the network


def page_token(ip: str, token: str | None, no_token: bool) -> str | None:
    """The token the page needs: ``token``, a new random one off loopback, or None (no token).

    Raises CvdError for ``--no-token`` off loopback and for an empty ``--token``.
    """
    from cvd_explorer.errors import CvdError

    if no_token:
        if not is_loopback(ip):
            raise CvdError(f"--no-token is allowed only with --ip 127.0.0.1 or localhost, not --ip {ip!r}: "
                           "on a network address anyone who reaches the port gets a Python kernel; "
                           "drop --no-token (a token is generated) or pass --token")
        return None
    if token is not None:
        if not token.strip():
            raise CvdError("--token is empty: give a token, or leave --token out to get a random one")
        return token
    return None if is_loopback(ip) else secrets.token_hex(24)


def page_url(ip: str, port: int | None, token: str | None) -> str:
    """The URL to open: ``http://HOST:PORT/`` plus ``?token=...`` when the page needs one."""
    host = socket.gethostname() if ip in ("", "0.0.0.0", "::") else ip
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    url = f"http://{host}:{port or DEFAULT_PORT}/"
    return f"{url}?token={token}" if token else url


def run(args: argparse.Namespace) -> int:
    """Check the runs, write the page's notebook to a temporary folder and run Voila on it."""
    from cvd_explorer.errors import CvdError
    from cvd_explorer.runs.run import Run

    if len(args.runs) > 2:
        raise CvdError(f"serve takes one run (Explorer) or two (Compare), got {len(args.runs)}")
    token = page_token(args.ip, args.token, args.no_token)
    runs = [str(Run(path, data_root=args.data_root).path) for path in args.runs]  # fails early on a non-run
    data_root = str(Path(args.data_root).expanduser().absolute()) if args.data_root else None
    if not _has_voila():
        print("serve needs Voila: pip install voila", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="cvd-explorer-serve-"))
    name = "Compare.ipynb" if len(runs) == 2 else "Explorer.ipynb"
    notebook = folder / name
    notebook.write_text(json.dumps(page_notebook(runs, data_root), indent=1) + "\n", encoding="utf-8")
    cmd = voila_command(notebook, args.port, args.ip, args.no_browser, token=token is not None)
    print(f"serving {' and '.join(runs)} with Voila (Ctrl+C to stop)", flush=True)
    if token is not None:
        print(f"open {page_url(args.ip, args.port, token)}", flush=True)
    proc = subprocess.Popen(cmd, cwd=folder, env=voila_env(token))
    previous = _on_sigterm_interrupt()
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_process(proc)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(folder, ignore_errors=True)


def _on_sigterm_interrupt() -> SignalHandler:
    """Turn SIGTERM into KeyboardInterrupt so Voila (and its kernel) are shut down, not orphaned.

    Returns the previous handler, or None when not on the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Ask a server to shut down (SIGTERM: Voila and JupyterLab stop their kernels); kill it if it
    has not ended within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def voila_command(notebook: Path, port: int | None, ip: str, no_browser: bool, token: bool = False) -> list[str]:
    """The ``python -m voila`` command line serving ``notebook``.

    With ``token``, Voila asks for the token of ``$JUPYTER_TOKEN`` (see :func:`voila_env`), which is
    never on the command line (where ``ps`` would show it to every user of the machine).
    """
    cmd = [sys.executable, "-m", "voila", str(notebook), f"--Voila.ip={ip}", "--Voila.port_retries=0",
           "--VoilaConfiguration.show_tracebacks=True"]
    if token:
        # Voila 0.5 on jupyter_server 2: with auto_token its IdentityProvider takes $JUPYTER_TOKEN.
        cmd.append("--Voila.auto_token=True")
    if port is not None:
        cmd.append(f"--port={int(port)}")
    if no_browser:
        cmd.append("--no-browser")
    return cmd


def voila_env(token: str | None) -> dict[str, str]:
    """The environment of the Voila process: ours, with ``JUPYTER_TOKEN`` set to ``token`` (or removed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE")}
    if token is not None:
        env["JUPYTER_TOKEN"] = token
    return env


def page_notebook(runs: list[str], data_root: str | None = None) -> dict[str, Any]:
    """The page as an nbformat 4 notebook: one code cell opening the panel on ``runs`` (absolute paths)."""
    # The page shows the panel only: TensorFlow's C++ start-up messages, written to the kernel
    # process's stderr, are dropped (Python errors still reach the page and the panel).
    quiet = ("import os\n\nos.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
             "os.dup2(os.open(os.devnull, os.O_WRONLY), 2)\n\n")
    if len(runs) == 1:
        source = (f"{quiet}from cvd_explorer import Atlas\n\n"
                  f"panel = Atlas({runs[0]!r}, data_root={data_root!r}, tabs=True)\npanel")
    else:
        source = (f"{quiet}from cvd_explorer import Compare\n\n"
                  f"panel = Compare({runs[0]!r}, {runs[1]!r}, data_root={data_root!r})\npanel")
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "panel", "metadata": {}, "outputs": [],
                   "source": source.splitlines(keepends=True)}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _has_voila() -> bool:
    import importlib.util

    return importlib.util.find_spec("voila") is not None
