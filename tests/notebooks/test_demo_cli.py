"""`cvd-explorer demo --no-lab`: data, run and notebook, reusing finished work."""

from __future__ import annotations

import argparse

from cvd_explorer.cli import demo, main
from cvd_explorer.config import TrainConfig
from cvd_explorer.runs.run import Run
from tests.widgets.helpers import RUN_SETTINGS, SYNTH_SETTINGS


def test_demo_no_lab_reuses_data_and_finished_run(run_dir, monkeypatch, capsys):
    # the session's small run was made from the same data and settings, so nothing is redone
    monkeypatch.setattr(demo, "SYNTH", dict(SYNTH_SETTINGS))
    monkeypatch.setattr(demo, "demo_config", lambda: TrainConfig(**RUN_SETTINGS))
    before = (run_dir / "model.keras").stat().st_mtime_ns
    assert main(["demo", "--no-lab", "--data", str(run_dir.parent / "data"), "--run", str(run_dir)]) == 0
    out = capsys.readouterr().out
    wrong = sum(not r["correct"] for r in Run(run_dir).predictions)
    assert "(reused)" in out and f"{wrong} misclassified of" in out
    assert "00_demo.ipynb" in out and demo.RUN_ENV in out
    assert (run_dir / "model.keras").stat().st_mtime_ns == before


def test_notebook_copied_next_to_the_run_outside_a_checkout(tmp_path, monkeypatch):
    import cvd_explorer

    fake_pkg = tmp_path / "site-packages" / "cvd_explorer"
    fake_pkg.mkdir(parents=True)
    monkeypatch.setattr(cvd_explorer, "__file__", str(fake_pkg / "__init__.py"))
    path = demo.notebook_path(tmp_path / "runs" / "mini")
    assert path == tmp_path / "runs" / demo.NOTEBOOK and path.is_file()


def test_demo_options_and_training_settings():
    config = demo.demo_config()
    assert config.arch == "resnet-mini"
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args(["--port", "8899", "--no-browser"])
    assert args.port == 8899 and args.no_browser and not args.no_lab
    assert args.data == "demo-data" and args.run.endswith("resnet-mini")
