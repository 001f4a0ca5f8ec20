"""`cvd-explorer serve`: the Explorer with the Atlas (one run) or Compare (two runs) as a web page, without
notebooks."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
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

examples:
  cvd-explorer serve runs/resnet50
  cvd-explorer serve runs/resnet50 runs/resnet101 --port 8866 --no-browser
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``serve``."""
    parser.add_argument("runs", nargs="+", metavar="RUN", help="one run directory (Explorer) or two (Compare)")
    parser.add_argument("--port", type=int, default=None, help="port of the page (default: Voila's, 8866)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--data-root", metavar="DIR", help="image folder of runs copied from another machine")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")


def run(args: argparse.Namespace) -> int:
    """Check the runs, write the page's notebook to a temporary folder and run Voila on it."""
    from cvd_explorer.errors import CvdError
    from cvd_explorer.runs.run import Run

    if len(args.runs) > 2:
        raise CvdError(f"serve takes one run (Explorer) or two (Compare), got {len(args.runs)}")
    runs = [str(Run(path, data_root=args.data_root).path) for path in args.runs]  # fails early on a non-run
    data_root = str(Path(args.data_root).expanduser().absolute()) if args.data_root else None
    if not _has_voila():
        print("serve needs Voila: pip install voila", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="cvd-explorer-serve-"))
    name = "Compare.ipynb" if len(runs) == 2 else "Explorer.ipynb"
    notebook = folder / name
    notebook.write_text(json.dumps(page_notebook(runs, data_root), indent=1) + "\n", encoding="utf-8")
    cmd = voila_command(notebook, args.port, args.ip, args.no_browser)
    print(f"serving {' and '.join(runs)} with Voila (Ctrl+C to stop)", flush=True)
    proc = subprocess.Popen(cmd, cwd=folder)
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


def voila_command(notebook: Path, port: int | None, ip: str, no_browser: bool) -> list[str]:
    """The ``python -m voila`` command line serving ``notebook``."""
    cmd = [sys.executable, "-m", "voila", str(notebook), f"--Voila.ip={ip}", "--Voila.port_retries=0",
           "--VoilaConfiguration.show_tracebacks=True"]
    if port is not None:
        cmd.append(f"--port={int(port)}")
    if no_browser:
        cmd.append("--no-browser")
    return cmd


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
