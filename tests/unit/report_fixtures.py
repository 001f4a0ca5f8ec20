"""Builders of the report tests: two tiny trained runs and their report.

The session fixtures built from them (``report_runs``, ``built_report``) live in ``tests/conftest.py``,
shared by the unit and the browser tests.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from cvd_explorer.config import TrainConfig

# Two resnet-mini runs on the same synthetic data and split, of different input sizes.
RUN_A = TrainConfig(
    arch="resnet-mini", image_size=32, batch_size=8, steps_per_epoch=2, val_steps=1, epochs=2, augment=False,
    lr=0.01, seed=0,
)
RUN_B = RUN_A.replace(image_size=40, seed=1)


@dataclass
class Report:
    """A built report: its page, the runs it covers and the progress calls it made."""

    page: Path
    runs: list[Path]
    progress: list[tuple[int, int, str]]


def make_runs(base: Path) -> list[Path]:
    """Train the two runs under ``base`` on 60 synthetic 48 px images with masks."""
    from cvd_explorer.data.synthetic import generate
    from cvd_explorer.runs import train

    data = base / "data"
    generate(data, n=60, size=48, seed=0)
    outs = []
    for name, config in (("mini32", RUN_A), ("mini40", RUN_B)):
        out = base / name
        run = train(config, data, out, progress=False)
        assert run.predictions, f"{out} has no predictions"
        outs.append(out)
    return outs


def other_split_copy(run_dir: Path, dest: Path, keep: int) -> Path:
    """A copy of ``run_dir`` posing as a run on another split: its manifest hash changed and only
    the first ``keep`` test predictions kept (the rest of the run is unchanged)."""
    shutil.copytree(run_dir, dest)
    config = json.loads((dest / "config.json").read_text())
    config["manifest"]["sha256"] = "0" * 64
    (dest / "config.json").write_text(json.dumps(config))
    lines = (dest / "predictions.csv").read_text().splitlines(keepends=True)
    (dest / "predictions.csv").write_text("".join(lines[: 1 + keep]))
    return dest


def build_test_report(runs: list[Path], out: Path) -> Report:
    """The report of ``runs`` in ``out``, with metrics and two samples per group, and its progress calls."""
    from cvd_explorer.report import build_report

    calls: list[tuple[int, int, str]] = []
    page = build_report(runs, out, progress=lambda *call: calls.append(call), samples_per_cell=2)
    return Report(page, runs, calls)
