"""Builders of the runs for the Compare tests, made next to the Explorer's shared small run (run A).

The fixtures built from them (``run_b``, ``run_other_split``, ``run_training``, and ``run_dir`` for run A:
resnet-mini, 32 px) live in ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from datetime import datetime, timezone
from pathlib import Path

from tests.widgets.helpers import RUN_SETTINGS


def _train(base: Path, name: str, manifest: Path | None = None, **overrides) -> Path:
    """A tiny run on the shared synthetic data of ``base`` (the Explorer's run folder); reused when finished."""
    from cvd_explorer.config import TrainConfig
    from cvd_explorer.runs.train import train

    out = base / name
    run = train(TrainConfig(**{**RUN_SETTINGS, **overrides}), base / "data", out, resume=out.exists(),
                progress=False, manifest_path=manifest)
    assert run.predictions, f"{out} has no predictions"
    return out


def train_run_b(run_a: Path) -> Path:
    """Run B: resnet-mini at 40 px (run A is 32 px), another seed, the same split as run A."""
    return _train(run_a.parent, "run-b-40px", image_size=40, seed=1)


def train_other_split(run_a: Path) -> Path:
    """A 32 px run trained on another split (split seed 1) of run A's images: another test set."""
    from cvd_explorer.data.split import ensure_manifest

    base = run_a.parent
    manifest = base / "manifest-seed1.csv"
    ensure_manifest(base / "data", seed=1, manifest_path=manifest)
    return _train(base, "run-other-split", manifest=manifest, seed=1)


def training_copy(run: Path, out: Path) -> Path:
    """A copy of ``run`` at ``out`` caught mid-training: status "running" (this process, fresh heartbeat),
    no predictions and no summary yet."""
    shutil.copytree(run, out)
    for name in ("predictions.csv", "summary.json"):
        (out / name).unlink()
    now = datetime.now(timezone.utc).isoformat()
    status = {"state": "running", "pid": os.getpid(), "host": socket.gethostname(), "heartbeat": now,
              "started": now, "epoch": 1, "epochs": 3}
    (out / "status.json").write_text(json.dumps(status))
    return out
