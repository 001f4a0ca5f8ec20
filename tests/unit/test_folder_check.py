"""The run-folder layer without training: the start/resume/refuse rules as a table, one history
reader for Run, the watcher and the loop, and one liveness rule for Run.state and the watcher."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import DataError, RunError
from cvd_explorer.fileio import now_iso, write_bytes, write_json
from cvd_explorer.runs import Run, files, folder
from cvd_explorer.runs.folder_check import check_run_folder
from cvd_explorer.runs.launch import watch
from cvd_explorer.runs.setup import RunRequest, prepare

CONFIG = TrainConfig(arch="resnet-mini", image_size=32, batch_size=4, steps_per_epoch=2, val_steps=1, epochs=3)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cvd_explorer.data.synthetic import generate

    root = tmp_path_factory.mktemp("folder-check") / "data"
    generate(root, n=8, size=32, seed=0)
    return root


def make_run(out: Path, data: Path, config: TrainConfig = CONFIG, completed: int = 0, evaluated: bool = False) -> Path:
    """A run folder as `train` leaves it after ``completed`` epochs (config.json, manifest.csv, state)."""
    from cvd_explorer.data.split import ensure_manifest

    manifest, _ = ensure_manifest(data)
    out.mkdir(parents=True)
    write_bytes(out / files.MANIFEST, manifest.to_bytes())
    write_json(out / files.CONFIG, {
        "schema_version": files.SCHEMA_VERSION, "config": config.to_dict(), "data_root": str(data),
        "classes": list(manifest.classes), "positive": manifest.classes[1],
        "manifest": {"file": files.MANIFEST, "sha256": manifest.sha256, "seed": manifest.seed},
    })
    if completed:
        (out / files.LAST_DIR).mkdir()
        state: dict[str, Any] = {"epoch": completed, "best": {"epoch": 1, "val_accuracy": 0.5}}
        if evaluated:
            state["evaluated"] = completed
        write_json(out / files.LAST_DIR / files.LAST_STATE, state)
    return out


def _with_files(out: Path, *names: str) -> Path:
    out.mkdir()
    for name in names:
        (out / name).write_text("x")
    return out


# (case, folder builder, config, resume, data given, expected action, field, words in the reason)
CASES = [
    ("new folder", lambda t, d: t / "new", CONFIG, False, True, "start", None, ""),
    ("empty folder", lambda t, d: _with_files(t / "empty"), CONFIG, False, True, "start", None, ""),
    ("only startup files", lambda t, d: _with_files(t / "s", files.MANIFEST, files.LOG, files.STATUS),
     CONFIG, False, True, "start", None, ""),
    ("a STOP file", lambda t, d: _with_files(t / "stop", files.LOG, files.STOP), CONFIG, True, True,
     "start", None, ""),
    ("a foreign file", lambda t, d: _with_files(t / "busy", files.LOG, "notes.txt"), CONFIG, False, True,
     "refuse", "out", "is not empty and holds no run (notes.txt"),
    ("a file, not a folder", lambda t, d: (t / "f").write_text("x") and t / "f", CONFIG, False, True,
     "refuse", "out", "is a file"),
    ("no config for a new run", lambda t, d: t / "new", None, True, True, "refuse", None, "holds no run to resume"),
    ("no data for a new run", lambda t, d: t / "new", CONFIG, False, False, "refuse", "data", "no data folder given"),
    ("a run without resume", lambda t, d: make_run(t / "run", d, completed=1), CONFIG, False, True,
     "refuse", "out", "already holds a training run; pass --resume"),
    ("a run, resumed", lambda t, d: make_run(t / "run", d, completed=1), CONFIG, True, True, "resume", None, ""),
    ("a run, resumed without config or data", lambda t, d: make_run(t / "run", d, completed=1), None, True, False,
     "resume", None, ""),
    ("a run, more epochs", lambda t, d: make_run(t / "run", d, completed=3, evaluated=True),
     CONFIG.replace(epochs=5), True, True, "resume", None, ""),
    ("a different config", lambda t, d: make_run(t / "run", d, completed=1), CONFIG.replace(lr=0.5), True, True,
     "refuse", "out", "cannot resume * with lr=0.5: the run was started with lr=0.001 (a different run"),
    ("epochs lowered below the done ones", lambda t, d: make_run(t / "run", d, completed=2),
     CONFIG.replace(epochs=1), True, True, "refuse", "epochs", "with epochs=1: 2 epochs are already done"),
    ("a damaged config.json", lambda t, d: _with_files(t / "bad", files.CONFIG), CONFIG, True, True,
     "refuse", "out", "is not valid JSON"),
]


@pytest.mark.parametrize("case, build, config, resume, with_data, action, field, words", CASES,
                         ids=[c[0] for c in CASES])
def test_the_rules(case, build, config, resume, with_data, action, field, words, data, tmp_path):
    out = build(tmp_path, data)
    before = sorted(p.name for p in out.iterdir()) if out.is_dir() else None
    decision = check_run_folder(out, config, data=data if with_data else None, resume=resume)
    assert (decision.action, decision.field) == (action, field), decision.reason
    for part in words.split("*"):
        assert part in decision.reason
    if action != "refuse":
        assert decision.config == (config or CONFIG) and decision.data_root == data
        decision.raise_if_refused()
    else:
        with pytest.raises(RunError, match="."):
            decision.raise_if_refused()
    assert (sorted(p.name for p in out.iterdir()) if out.is_dir() else None) == before  # nothing written


def test_finished_run_and_completed_epochs(data, tmp_path):
    out = make_run(tmp_path / "run", data, completed=3, evaluated=True)
    done = check_run_folder(out, None, resume=True)
    assert done.action == "resume" and done.finished and done.completed == 3
    longer = check_run_folder(out, CONFIG.replace(epochs=4), resume=True)
    assert longer.action == "resume" and not longer.finished and longer.completed == 3
    assert check_run_folder(make_run(tmp_path / "fresh", data), CONFIG, resume=True).completed == 0


def test_data_folder_refusals_are_data_errors(data, tmp_path):
    missing = tmp_path / "missing"
    new = check_run_folder(tmp_path / "new", CONFIG, data=missing)
    assert new.field == "data" and "is not a folder (it does not exist)" in new.reason
    with pytest.raises(DataError):
        new.raise_if_refused()
    run = make_run(tmp_path / "run", data, completed=1)
    moved = check_run_folder(run, CONFIG, data=missing, resume=True)
    assert moved.field == "data" and "the run's data folder" in moved.reason and "does not exist" in moved.reason


def test_a_changed_manifest_is_refused(data, tmp_path):
    out = make_run(tmp_path / "run", data, completed=1)
    text = (out / files.MANIFEST).read_text().splitlines()
    (out / files.MANIFEST).write_text("\n".join(text[:-1]) + "\n")
    decision = check_run_folder(out, CONFIG, resume=True)
    assert decision.field == "out" and "differs from the manifest the run recorded" in decision.reason


def test_prepare_raises_the_refusals(data, tmp_path):
    busy = _with_files(tmp_path / "busy", "notes.txt")
    kwargs: dict[str, Any] = dict(distribution={}, device="CPU")
    with pytest.raises(RunError, match="is not empty and holds no run"):
        prepare(CONFIG, data, busy, RunRequest(resume=False), **kwargs)
    with pytest.raises(DataError, match="is not a folder"):
        prepare(CONFIG, tmp_path / "nothing", tmp_path / "new", RunRequest(resume=False), **kwargs)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"] and not (tmp_path / "new").exists()


# ---------------------------------------------------------------------- one history reader
def _comparable(rows):
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]


def test_one_history_reader_for_run_watcher_and_loop(data, tmp_path):
    out = make_run(tmp_path / "run", data, completed=2)
    (out / files.HISTORY).write_text(
        ",".join(files.HISTORY_COLUMNS) + "\n"
        "1,0.7,0.5,0.8,0.4,0.001,1.5,\n"       # images_per_s empty
        "x,1,1,1,1,1,1,1\n"                     # no epoch number: skipped
        "2,nan,0.6,0.7,0.5,0.001,1.4,99.5\n"   # loss nan
        "3,0.5,0.7,0.6,0.6,0.001,1.3,98.0\n"   # past the committed epoch 2
    )
    run_rows = Run(out).history
    assert [r["epoch"] for r in run_rows] == [1, 2, 3]
    assert math.isnan(run_rows[0]["images_per_s"]) and math.isnan(run_rows[1]["loss"])
    assert run_rows[1]["images_per_s"] == 99.5 and all(isinstance(r["epoch"], int) for r in run_rows)
    assert _comparable(watch(out).history) == _comparable(run_rows)
    committed = folder.read_history(out, upto=2)  # what the training loop resumes from
    assert _comparable(committed) == _comparable(run_rows[:2])
    assert math.isnan(Run(out).curve("images_per_s")[0])

    folder.write_history(out, committed)  # missing numbers written as empty cells, read back as NaN
    lines = (out / files.HISTORY).read_text().splitlines()
    assert lines[1].endswith(",1.5,") and lines[2].startswith("2,,0.6,")
    assert _comparable(Run(out).history) == _comparable(committed)


# ---------------------------------------------------------------------- one liveness rule
def _running(out: Path, **status: Any) -> None:
    write_json(out / files.STATUS, {"state": "running", "phase": "train", "epoch": 1, "epochs": 3, **status})


def test_one_liveness_rule_for_run_state_and_the_watcher(data, tmp_path):
    out = make_run(tmp_path / "run", data, completed=1)
    here = socket.gethostname()
    old = "2000-01-01T00:00:00+00:00"

    _running(out, pid=os.getpid(), host=here, heartbeat=old)  # alive here: the pid decides, not the heartbeat
    assert Run(out).state == watch(out).state == "running"

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat")
    deadline = time.monotonic() + 30
    while stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        _running(out, pid=child.pid, host=here, heartbeat=now_iso())  # a zombie (or gone): not alive
        assert Run(out).state == watch(out).state == "interrupted"
    finally:
        child.wait()
    _running(out, pid=child.pid, host=here, heartbeat=now_iso())  # reaped
    assert Run(out).state == watch(out).state == "interrupted"

    _running(out, pid=1, host="another-host", heartbeat=old)  # another host: the heartbeat decides
    assert Run(out).state == watch(out).state == "interrupted"
    _running(out, pid=1, host="another-host", heartbeat=now_iso())
    assert Run(out).state == watch(out).state == "running"
