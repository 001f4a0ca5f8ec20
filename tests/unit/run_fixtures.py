"""Fixtures and helpers for the training-run tests: tiny data, tiny trainings, subprocess control.

Import the shared session fixtures in a test module with
``from .run_fixtures import tiny_data, trained_run  # noqa: F401``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvd_explorer.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]

# The shared read-only run: 2 epochs of 3 steps of 4 images at 32 px (about 10 s on one core).
TINY = TrainConfig(
    arch="resnet-mini", image_size=32, batch_size=4, steps_per_epoch=3, val_steps=2, epochs=2,
)
# Kill/stop tests: long enough epochs to catch a process inside one.
KILLABLE = TINY.replace(steps_per_epoch=6, epochs=3)


def config_flags(config: TrainConfig) -> list[str]:
    """`cvd-explorer train` flags reproducing ``config``."""
    return [
        "--arch", config.arch, "--image-size", str(config.image_size), "--batch-size", str(config.batch_size),
        "--steps-per-epoch", str(config.steps_per_epoch), "--val-steps", str(config.val_steps),
        "--epochs", str(config.epochs), "--seed", str(config.seed),
    ]


def cli_env() -> dict[str, str]:
    """Environment for child trainings: quiet TensorFlow, one intra-op thread pool each."""
    env = dict(os.environ)
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("TF_CONFIG", None)
    return env


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python -m cvd_explorer ARGS`` (stdout+stderr captured)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cvd_explorer", *args], cwd=REPO, env=env or cli_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def run_cli(*args: str, timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m cvd_explorer ARGS`` to completion (stdout and stderr apart)."""
    return subprocess.run(
        [sys.executable, "-m", "cvd_explorer", *args], cwd=REPO, env=env or cli_env(),
        capture_output=True, text=True, timeout=timeout,
    )


def read_status(run_dir: Path) -> dict[str, Any]:
    """``status.json`` or ``{}`` while it does not exist yet."""
    try:
        return json.loads((run_dir / "status.json").read_text())
    except FileNotFoundError:
        return {}


def wait_for(
    run_dir: Path, predicate: Callable[[dict[str, Any]], bool], proc: subprocess.Popen, timeout: float = 120
) -> dict[str, Any]:
    """Poll ``status.json`` every 20 ms until ``predicate(status)``; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(run_dir)
        if status and predicate(status):
            return status
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"training ended (rc {proc.returncode}) before the awaited status: {status}\n{output}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"timed out waiting; last status {read_status(run_dir)}")


def kill9(proc: subprocess.Popen) -> None:
    """SIGKILL a child and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


# Each test module that imports a fixture below gets its own copy of the fixture definition, and
# pytest keeps session fixtures per definition: this cache makes them truly once per session.
_SESSION: dict[str, Any] = {}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A synthetic Kaggle-layout folder: 48 images of 40 px (cat.<i>.jpg / dog.<i>.jpg)."""
    from cvd_explorer.data.synthetic import generate

    if "tiny_data" not in _SESSION:
        root = tmp_path_factory.mktemp("tiny-data") / "data"
        generate(root, n=48, size=40, seed=0)
        _SESSION["tiny_data"] = root
    return _SESSION["tiny_data"]


@pytest.fixture(scope="session")
def trained_run(tiny_data, tmp_path_factory):
    """A finished run of :data:`TINY`, trained in-process once per session (read only!)."""
    import keras

    from cvd_explorer.runs import train

    if "trained_run" not in _SESSION:
        out = tmp_path_factory.mktemp("trained") / "run"
        _SESSION["trained_run"] = train(TINY, tiny_data, out, progress=False)
        keras.backend.clear_session()
    return _SESSION["trained_run"]
