"""A 10-class folder data set (class folders ``0`` ... ``9``) and small runs trained on it through
the CLI, shared by the K-class tests of every folder (data, Explorer, Atlas, Compare, report).

Each class is a bright bar at its own angle (18 degrees apart) on a noisy background, at a random
place and length, so a small ResNet learns some of it in a few steps and still misses others.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DIGIT_CLASSES = tuple(str(i) for i in range(10))
DIGITS_PER_CLASS = 14
DIGITS_SIZE = 40
TRAIN_FLAGS = ("--arch", "resnet-mini", "--image-size", "32", "--batch-size", "16", "--steps-per-epoch", "4",
               "--val-steps", "1", "--epochs", "2", "--lr", "0.05", "--no-augment", "--probes", "0", "--quiet")


def bar_image(k: int, rng: np.random.Generator, size: int = DIGITS_SIZE, n_classes: int = 10) -> np.ndarray:
    """uint8 ``(size, size, 3)``: a bar at angle ``180 * k / n_classes`` degrees on noise."""
    image = rng.normal(70, 25, (size, size, 3))
    angle = np.pi * k / n_classes
    cy, cx = rng.uniform(0.35, 0.65, 2) * size
    half = rng.uniform(0.25, 0.4) * size
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    along = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
    across = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
    bar = (np.abs(along) < half) & (np.abs(across) < size * 0.06)
    image[bar] = rng.uniform(200, 255, 3)
    return np.clip(image, 0, 255).astype(np.uint8)


def digits_folder(root: Path, per_class: int = DIGITS_PER_CLASS, classes: tuple[str, ...] = DIGIT_CLASSES) -> Path:
    """``root/<class>/<i>.png`` for the class folders ``classes`` (reused when complete)."""
    rng = np.random.default_rng(10)
    for k, name in enumerate(classes):
        for i in range(per_class):
            path = root / name / f"{i}.png"
            image = bar_image(k, rng, n_classes=len(classes))
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(path)
    return root


def cli_run(data: Path, out: Path, seed: int = 0, extra: tuple[str, ...] = ()) -> Path:
    """A finished resnet-mini run on ``data`` trained with ``cvd-explorer train`` (reused when finished)."""
    from cvd_explorer.cli import main

    if not (out / "summary.json").is_file():
        args = ["train", "--data", str(data), "--out", str(out), *TRAIN_FLAGS, "--seed", str(seed), *extra]
        if out.exists():
            args.append("--resume")
        code = main(args)
        assert code == 0, f"cvd-explorer train exited {code}"
    return out
