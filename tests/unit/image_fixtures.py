"""Photo-like generated images (texture for JPEG, assorted sizes) for the decode and pipeline tests."""

from __future__ import annotations

import numpy as np


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 (H, W, 3): smooth colour waves plus grain, enough texture to exercise JPEG."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    phase = rng.uniform(0, 6, 3)
    waves = np.stack([np.sin(7 * x + phase[0]), np.cos(5 * y + phase[1]), np.sin(4 * (x + y) + phase[2])], -1)
    return (128 + 90 * waves + rng.normal(0, 18, (height, width, 3))).clip(0, 255).astype(np.uint8)
