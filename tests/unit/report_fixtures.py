"""Fixtures of the report tests: two tiny trained runs and their report, built once per session.

Import them in a test module with
``from tests.unit.report_fixtures import report_runs, built_report  # noqa: F401``.
Both live in fixed folders under pytest's base temporary folder, so the unit and the browser
tests share one training and one report even though each module registers the fixtures.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

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
    """Train (or reuse) the two runs under ``base`` on 60 synthetic 48 px images with masks."""
    from cvd_explorer.data.synthetic import generate
    from cvd_explorer.runs import train

    data = base / "data"
    generate(data, n=60, size=48, seed=0)
    outs = []
    for name, config in (("mini32", RUN_A), ("mini40", RUN_B)):
        out = base / name
        run = train(config, data, out, resume=out.exists(), progress=False)
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


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The two trained run directories (read only!)."""
    return make_runs(tmp_path_factory.getbasetemp() / "report-runs")


@pytest.fixture(scope="session")
def built_report(report_runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The report of both runs, with metrics and two samples per group (read only!)."""
    from cvd_explorer.report import build_report

    out = tmp_path_factory.getbasetemp() / "report-out"
    record = out / "progress.json"
    if record.is_file() and (out / "index.html").is_file():
        return Report(out / "index.html", report_runs, [tuple(c) for c in json.loads(record.read_text())])
    calls: list[tuple[int, int, str]] = []
    page = build_report(report_runs, out, progress=lambda *call: calls.append(call), samples_per_cell=2)
    record.write_text(json.dumps(calls))
    return Report(page, report_runs, calls)
