"""The reference architecture itself goes through the whole run path: train, save, load, explain."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.models import conv_layers
from cvd_explorer.runs import Run

from .run_fixtures import run_cli


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_resnet50_run_trains_saves_and_reloads_safely(tiny_data, tmp_path):
    out = tmp_path / "resnet50"
    result = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--quiet", "--arch", "resnet50",
                     "--image-size", "32", "--batch-size", "4", "--steps-per-epoch", "1", "--val-steps", "1",
                     "--epochs", "1")
    assert result.returncode == 0, result.stderr
    run = Run(out)
    assert run.state == "finished" and run.config.arch == "resnet50"
    # the study's defaults stay in the config where the flags did not change them
    assert (run.config.lr, run.config.momentum) == (0.001, 0.9)
    model = run.load_model()  # safe mode, sha256 checked
    assert len(conv_layers(model)) == 53
    probs = np.array([row["prob"] for row in run.predictions])
    assert len(probs) == len(run.manifest.split_rows("test")) and np.isfinite(probs).all()
