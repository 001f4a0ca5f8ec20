"""--mixed-precision and --xla reach the model: a float16 run trains, saves and explains."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from cvd_explorer.runs import Run

from .run_fixtures import TINY, config_flags, run_cli


def _train_one_epoch(data, out, flag: str) -> Run:
    """``cvd-explorer train`` of the tiny config for one epoch with ``flag``; it must succeed."""
    result = run_cli("train", "--data", str(data), "--out", str(out), "--quiet", flag,
                     *config_flags(TINY.replace(epochs=1)))
    assert result.returncode == 0, result.stderr
    return Run(out)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_mixed_precision_run_trains_with_float16_layers_and_a_float32_head(tiny_data, tmp_path):
    out = tmp_path / "run"
    run = _train_one_epoch(tiny_data, out, "--mixed-precision")
    assert run.config.mixed_precision and run.state == "finished"
    with zipfile.ZipFile(out / "model.keras") as archive:
        layers = json.loads(archive.read("config.json"))["config"]["layers"]
    policies = {layer["config"]["name"]: layer["config"]["dtype"] for layer in layers}
    assert "mixed_float16" in json.dumps(policies["conv1_conv"])
    assert "float32" in json.dumps(policies["predictions"]) and "mixed" not in json.dumps(policies["predictions"])
    probs = np.array([row["prob"] for row in run.predictions])
    assert np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_xla_run_trains(tiny_data, tmp_path):
    run = _train_one_epoch(tiny_data, tmp_path / "run", "--xla")
    assert run.config.xla and run.state == "finished" and len(run.history) == 1
