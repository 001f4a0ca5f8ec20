"""Which test images the report shows, and loading them (pixels and ground-truth masks).

Choices are deterministic: correct images by confidence (lowest loss first), wrong ones by how
confidently wrong they are (highest loss first), ties by path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

Row = dict[str, Any]



def pick(rows: Sequence[Row], label: str, correct: bool, n: int) -> list[Row]:
    """Up to ``n`` prediction rows of true class ``label`` that are ``correct`` (or not).

    Correct rows come most confident first (lowest loss), wrong rows most confidently wrong
    first (highest loss); ties are broken by path.
    """
    chosen = [r for r in rows if r["label"] == label and bool(r["correct"]) == correct]
    sign = 1.0 if correct else -1.0
    chosen.sort(key=lambda r: (sign * float(r["loss"]), r["relpath"]))
    return chosen[: max(0, int(n))]


def metric_sample(rows: Sequence[Row], classes: Sequence[str], per_class: int = 4) -> list[Row]:
    """A small fixed sample for the explanation metrics: the first ``per_class`` test images of
    each class by path, right or wrong (so the metrics do not favour easy images)."""
    out: list[Row] = []
    for label in classes:
        out.extend(sorted((r for r in rows if r["label"] == label), key=lambda r: r["relpath"])[:per_class])
    return out


def load_batch(paths: Sequence[str | Path], size: int) -> np.ndarray:
    """Images squashed to ``size`` px as the model takes them: float32 ``(N, size, size, 3)``, 0-255."""
    from cvd_explorer.data.loader import load_image

    return np.stack([load_image(p, size=(size, size)) for p in paths]).astype(np.float32)


def load_display(path: str | Path, size: int = 160) -> np.ndarray:
    """An image for display: uint8 RGB ``(size, size, 3)``."""
    from cvd_explorer.data.loader import load_image

    return load_image(path, size=(size, size))


def mask_path(data_root: Path, relpath: str) -> Path:
    """Where the synthetic generator keeps an image's mask: ``data_root/_masks/<relpath>.png``."""
    return Path(data_root) / "_masks" / PurePosixPath(relpath).with_suffix(".png")


def load_masks(data_root: Path, relpaths: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth masks of the labelled animal (value 1), resized (nearest) to ``size`` px.

    Returns:
        ``(masks, found)``: bool ``(M, size, size)`` for the ``M`` images that have a mask file, and
        the int indices (into ``relpaths``) of those images.
    """
    from PIL import Image

    masks, found = [], []
    for i, rel in enumerate(relpaths):
        path = mask_path(data_root, rel)
        if not path.is_file():
            continue
        with Image.open(path) as im:
            mask = np.asarray(im.convert("L").resize((size, size), Image.Resampling.NEAREST))
        masks.append(mask == 1)
        found.append(i)
    if not masks:
        return np.zeros((0, size, size), bool), np.zeros(0, int)
    return np.stack(masks), np.asarray(found, int)
