"""cvd_explorer.runs.launch (widget-free): command line, liveness, stop file, watching a run."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cvd_explorer.cli.train import add_arguments, config_from_args
from cvd_explorer.config import TrainConfig
from cvd_explorer.fileio import append_text, write_csv, write_json
from cvd_explorer.render_curves import curves_png
from cvd_explorer.runs import files
from cvd_explorer.runs.launch import (
    Launch,
    Snapshot,
    describe_exit,
    format_duration,
    is_alive,
    last_error_line,
    launch,
    log_tail,
    read_history,
    request_stop,
    stop_pending,
    train_command,
    watch,
)
from tests.widgets.training_fixtures import fake_run, tiny_config

PNG = b"\x89PNG\r\n\x1a\n"


def _parse(cmd: list[str]):
    """The `train` subcommand's arguments of a ``python -m cvd_explorer train ...`` command."""
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(cmd[4:])


def _row(epoch: int, acc: float = 0.5, loss: float = 0.7) -> list[object]:
    return [epoch, loss, acc, loss + 0.1, acc - 0.1, 0.01, 1.5, 100.0]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("config", [
    TrainConfig(),
    TrainConfig(arch="resnet-mini", image_size=40, batch_size=3, steps_per_epoch=7, val_steps="all", epochs=5,
                lr=0.0123456789, momentum=0.5, seed=9, augment=False, xla=True, mixed_precision=True,
                cache_images=True),
    TrainConfig(arch="resnet101", weights="imagenet"),
])
def test_train_command_round_trips_through_the_cli(config: TrainConfig, tmp_path: Path) -> None:
    cmd = train_command(config, tmp_path / "data", tmp_path / "run")
    assert cmd[:4] == [sys.executable, "-m", "cvd_explorer", "train"] and cmd[-1] == "--quiet"
    args = _parse(cmd)
    assert config_from_args(args) == config
    assert Path(args.out) == (tmp_path / "run").absolute() and Path(args.data) == (tmp_path / "data").absolute()


def test_resume_command_takes_the_recorded_config(tmp_path: Path) -> None:
    cmd = train_command(None, None, tmp_path / "run", resume=True)
    args = _parse(cmd)
    assert args.resume and args.data is None and args.arch is None and args.epochs is None


def test_is_alive_sees_through_zombies() -> None:
    assert is_alive(os.getpid())
    assert not is_alive(_dead_pid()) and not is_alive(None) and not is_alive(-1)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat")
    if not stat.parent.exists():
        child.wait()
        pytest.skip("no /proc")
    deadline = time.monotonic() + 30
    while stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(child.pid)  # exited, not reaped yet
    assert child.wait() == 0


def test_watch_new_and_finished_runs(tmp_path: Path) -> None:
    assert watch(tmp_path / "nothing").state == "new"
    out = fake_run(tmp_path / "run", tiny_config(), "finished", pid=_dead_pid(), epoch=2, epochs=2, step=2,
                   steps_per_epoch=2, phase="done", images_per_s=12.5, eta_seconds=0, error=None)
    write_csv(out / files.HISTORY, files.HISTORY_COLUMNS, [_row(1), _row(2)])
    append_text(out / files.LOG, "".join(f"line {i}\n" for i in range(50)))
    snap = watch(out, log_lines=5)
    assert snap.state == "finished" and snap.done and not snap.active and snap.fraction == 1.0
    assert (snap.epoch, snap.epochs, snap.images_per_s, snap.error) == (2, 2, 12.5, "")
    assert [row["epoch"] for row in snap.history] == [1, 2] and snap.history[0]["val_accuracy"] == pytest.approx(0.4)
    assert snap.log_tail.splitlines() == [f"line {i}" for i in range(45, 50)]


def test_running_status_of_a_dead_process_is_interrupted(tmp_path: Path) -> None:
    import socket

    out = fake_run(tmp_path / "run", tiny_config(), "running", pid=_dead_pid(), host=socket.gethostname(),
                   heartbeat="2000-01-01T00:00:00+00:00", epoch=1, epochs=2)
    snap = watch(out)
    assert snap.state == "interrupted" and snap.done and "without a final status" in snap.error
    write_json(out / files.STATUS, {"state": "running", "pid": os.getpid(), "host": socket.gethostname(),
                                    "epoch": 1, "epochs": 4, "step": 1, "steps_per_epoch": 2, "phase": "train"})
    snap = watch(out)
    assert snap.state == "running" and snap.active and snap.fraction == pytest.approx(1.5 / 4)


def test_failed_status_without_message_takes_the_log(tmp_path: Path) -> None:
    out = fake_run(tmp_path / "run", tiny_config(), "failed", pid=_dead_pid(), error=None)
    append_text(out / files.LOG, "Traceback (most recent call last):\n  ...\nValueError: bad things\n")
    assert watch(out).error == "ValueError: bad things"


def test_watch_reports_a_child_that_dies_before_writing_status(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    code = "import sys, time; time.sleep(0.5); print('error: no images here', file=sys.stderr); sys.exit(2)"
    with open(out / files.LOG, "ab") as log:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT)
    handle = Launch(child.pid, out, process=child)
    assert watch(out, handle).state == "starting"
    handle.wait(30)
    snap = watch(out, handle)
    assert snap.state == "failed" and snap.error == "no images here" and snap.returncode == 2


def test_errors_of_an_earlier_launch_are_not_blamed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    append_text(out / files.LOG, "error: an old problem\n2024-01-01T00:00:00+00:00 launching: -m cvd_explorer\n")
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    child.wait()
    snap = watch(out, Launch(child.pid, out, process=child))
    assert snap.state == "failed" and snap.error == "the training process exited with exit code 3 before starting"


def test_an_old_status_is_ignored_while_the_new_child_starts(tmp_path: Path) -> None:
    out = fake_run(tmp_path / "run", tiny_config(), "stopped", pid=_dead_pid(), epoch=1, epochs=2)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert watch(out, Launch(child.pid, out, process=child)).state == "starting"
        assert watch(out).state == "stopped"
    finally:
        child.kill()
        child.wait()


def test_launching_status_is_starting_until_the_child_dies(tmp_path: Path) -> None:
    import socket

    out = tmp_path / "run"
    out.mkdir()
    write_json(out / files.STATUS, {"state": "running", "phase": "launching", "pid": os.getpid(),
                                    "host": socket.gethostname(), "epoch": 3, "epochs": 9})
    snap = watch(out)
    assert snap.state == "starting" and snap.active and (snap.epoch, snap.epochs) == (3, 9)
    write_json(out / files.STATUS, {"state": "running", "phase": "launching", "pid": _dead_pid(),
                                    "host": socket.gethostname()})
    append_text(out / files.LOG, "error: --data x is not a folder\n")
    snap = watch(out)
    assert snap.state == "failed" and snap.error == "--data x is not a folder"


def test_request_stop_writes_the_stop_file(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    assert request_stop(fresh) == "nothing to stop" and not stop_pending(fresh)  # no STOP in a new folder
    run = fake_run(tmp_path / "run", tiny_config())
    assert not stop_pending(run)
    assert request_stop(run) == "stop file" and (run / files.STOP).is_file()


def test_small_readers(tmp_path: Path) -> None:
    (tmp_path / files.HISTORY).write_text("epoch,loss,accuracy\n1,0.5,\nbad,1,1\n2,0.4,0.9\n")
    rows = read_history(tmp_path)
    assert [r["epoch"] for r in rows] == [1, 2] and math.isnan(rows[0]["accuracy"])
    assert read_history(tmp_path / "missing") == [] and log_tail(tmp_path) == ""
    assert format_duration(3725.4) == "1:02:05" and format_duration(None) == "--:--"
    assert describe_exit(-9) == "signal SIGKILL" and describe_exit(1) == "exit code 1"
    assert last_error_line("I0000 00:00 x.cc:1] cuInit: INTERNAL\nerror: it broke\n") == "it broke"
    assert last_error_line("all good\n") == ""
    assert Snapshot("stopped", epoch=1, epochs=4, step=1, steps_per_epoch=2, phase="stopped").fraction == 0.25


def test_curves_png_changes_with_the_history() -> None:
    empty = curves_png([])
    one = curves_png([{"epoch": 1, "loss": 0.7, "accuracy": 0.5, "val_loss": 0.8, "val_accuracy": float("nan")}])
    two = curves_png([{"epoch": 1, "loss": 0.7, "accuracy": 0.5, "val_loss": 0.8, "val_accuracy": 0.4},
                      {"epoch": 2, "loss": 0.6, "accuracy": 0.6, "val_loss": 0.7, "val_accuracy": 0.5}], title="run")
    assert all(png.startswith(PNG) for png in (empty, one, two)) and len({empty, one, two}) == 3


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_launch_detaches_the_child_and_logs_its_output(tmp_path: Path) -> None:
    out = tmp_path / "run"
    handle = launch(tiny_config(), tmp_path / "no-data", out)
    assert handle.pid != os.getpid() and handle.alive
    assert os.getsid(handle.pid) == handle.pid != os.getsid(0)  # a session of its own
    assert watch(out, handle).state == "starting"
    assert watch(out).state == "starting"  # seen without the handle too (another panel)
    assert handle.wait(100) == 2 and not handle.alive
    snap = watch(out, handle)
    assert snap.state == "failed" and "is not a folder" in snap.error
    log = (out / files.LOG).read_text()
    assert log.splitlines()[0].split(" ", 1)[1].startswith("launching: -m cvd_explorer train --out")
    assert "error: --data" in log


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_stop_while_starting_signals_the_child_and_marks_the_run_stopped(tmp_path: Path) -> None:
    out = tmp_path / "run"
    handle = launch(tiny_config(), tmp_path / "no-data", out)
    assert request_stop(out, handle.pid) == "signal"
    assert handle.wait(30) is not None and not handle.alive
    snap = watch(out, handle)
    assert snap.state == "stopped" and snap.error == "" and not stop_pending(out)
    assert request_stop(out) == "nothing to stop"
