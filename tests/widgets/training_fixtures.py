"""Helpers of the TrainingPanel tests: a tiny training config, synthetic data, polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TINY = dict(
    arch="resnet-mini", image_size=32, batch_size=4, steps_per_epoch=2, val_steps=1, epochs=2, augment=False,
    lr=0.01, seed=0,
)


def tiny_config(**changes: Any):
    """A TrainConfig that trains resnet-mini at 32 px for a few 4-image steps."""
    from cvd_explorer.config import TrainConfig

    return TrainConfig(**{**TINY, **changes})


def synthetic_data(folder: Path) -> Path:
    """40 synthetic 48 px cat and dog images in Kaggle layout (reused when present)."""
    from cvd_explorer.data.synthetic import generate

    generate(folder, n=40, size=48, seed=0)
    return folder


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.3, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def fake_run(out: Path, config, state: str | None = None, **status: Any) -> Path:
    """A run directory holding only config.json (and status.json when ``state`` is given)."""
    from cvd_explorer.fileio import write_json
    from cvd_explorer.runs import files

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / files.CONFIG, {"schema_version": files.SCHEMA_VERSION, "config": config.to_dict(),
                                    "data_root": str(out), "classes": ["cat", "dog"], "positive": "dog"})
    if state is not None:
        write_json(out / files.STATUS, {"state": state, **status})
    return out
