"""Builders shared by the widget, notebook and browser tests: a tiny trained run and a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RUN_SETTINGS = dict(
    arch="resnet-mini", image_size=32, batch_size=16, steps_per_epoch=3, val_steps=1, epochs=1, augment=False,
    lr=0.01, seed=0,
)

SYNTH_SETTINGS = dict(n=240, size=48, seed=0)


def small_run(base: Path) -> Path:
    """A finished run of resnet-mini trained for a few steps on 240 synthetic 48 px images.

    Trained so briefly that some test images are misclassified. Reused when already in ``base``.
    """
    from cvd_explorer.config import TrainConfig
    from cvd_explorer.data.synthetic import generate
    from cvd_explorer.runs.train import train

    data, out = base / "data", base / "run"
    generate(data, **SYNTH_SETTINGS)
    run = train(TrainConfig(**RUN_SETTINGS), data, out, resume=out.exists(), progress=False)
    rows = run.predictions
    assert rows, "the test run has no predictions"
    assert any(not r["correct"] for r in rows), "the test run should misclassify some images"
    return out


def tiny_model(size: int = 32):
    """resnet-mini at ``size`` px, random initialisation."""
    from cvd_explorer.models import build

    return build("resnet-mini", size)


def random_images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """uint8 ``(n, size, size, 3)`` noise images."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
