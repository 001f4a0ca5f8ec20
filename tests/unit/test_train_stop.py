"""Graceful stop (STOP file, SIGTERM), Run read while training, and a failing training."""

from __future__ import annotations

import json
import signal

import pytest

from cvd_explorer.runs import Run

from .run_fixtures import KILLABLE, config_flags, run_cli, start_cli, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.timeout(400)
def test_stop_file_and_sigterm_then_resume(tiny_data, tmp_path):
    out = tmp_path / "run"
    proc = start_cli("train", "--data", str(tiny_data), "--out", str(out), "--quiet", *config_flags(KILLABLE))
    status = wait_for(out, lambda s: s.get("epoch", 0) >= 1 and s.get("state") == "running", proc)
    # Run reads the run while it trains: partial history, no predictions yet, live progress fields
    run = Run(out)
    assert run.state == "running" and len(run.history) >= 1
    assert run.predictions is None and run.summary is None and run.model_info["epoch"] >= 1
    for key in ("pid", "heartbeat", "step", "steps_per_epoch", "epochs", "images_per_s", "eta_seconds", "started"):
        assert key in status, key
    assert status["steps_per_epoch"] == 6 and status["epochs"] == 3 and status["pid"] == proc.pid
    run.request_stop()  # creates RUN/STOP
    assert proc.wait(timeout=120) == 0
    state = json.loads((out / "last" / "state.json").read_text())
    stopped = Run(out)
    assert stopped.status["state"] == "stopped" and stopped.state == "stopped"
    assert stopped.status["epoch"] == state["epoch"] == len(stopped.history)
    assert "stopped (STOP file)" in (out / "log.txt").read_text()

    proc = start_cli("train", "--out", str(out), "--resume", "--quiet")
    wait_for(out, lambda s: s.get("state") == "running" and s.get("phase") == "train", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    assert Run(out).status["state"] == "stopped"
    assert "stopped (SIGTERM)" in (out / "log.txt").read_text()

    result = run_cli("train", "--out", str(out), "--resume", "--quiet")
    assert result.returncode == 0, result.stderr
    final = Run(out)
    assert final.state == "finished" and [r["epoch"] for r in final.history] == [1, 2, 3]
    assert len(final.predictions) == len(final.manifest.split_rows("test"))


@pytest.mark.timeout(200)
def test_failure_is_recorded(tiny_data, tmp_path):
    out = tmp_path / "run"
    weights = tmp_path / "broken.weights.h5"
    weights.write_bytes(b"not an HDF5 file")  # the model cannot be built from it
    result = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--quiet",
                     "--weights", str(weights), *config_flags(KILLABLE))
    assert result.returncode != 0
    run = Run(out)
    assert run.status["state"] == "failed" and "broken.weights.h5" in run.status["error"]
    assert "Traceback" in (out / "log.txt").read_text()
