"""SmoothGrad's noisy copies (Smilkov et al. 2017), shared by the ``smoothgrad`` attribution and smoothed CAMs.

The noise is Gaussian with standard deviation ``noise * (max(x_i) - min(x_i))``: a share of each
image's own value range (over its pixels and channels), as in the paper and in tf-keras-vis. It
therefore lives in whatever input space the model takes (0-255 for the project's models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvd_explorer.explain.errors import ExplainError


@dataclass(frozen=True)
class SmoothOptions:
    """How to smooth a gradient explanation.

    Attributes:
        samples: noisy copies per image (averaged); at least 1.
        noise: standard deviation of the noise as a share of each image's value range (max - min),
            at least 0 (0 gives the unsmoothed explanation).
        seed: seed of the noise (same seed, same copies).
    """

    samples: int = 25
    noise: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.samples, bool) or not isinstance(self.samples, (int, np.integer)) or self.samples < 1:
            raise ExplainError(f"smoothing samples must be an integer >= 1, got {self.samples!r}")
        if not isinstance(self.noise, (int, float, np.floating)) or not np.isfinite(self.noise) or self.noise < 0:
            raise ExplainError(f"smoothing noise must be a number >= 0 (share of the input range), got {self.noise!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ExplainError(f"smoothing seed must be an integer, got {self.seed!r}")


def noisy_copies(x: np.ndarray, options: SmoothOptions) -> np.ndarray:
    """``samples`` noisy copies of every image, image-major.

    Args:
        x: float32 ``(N, H, W, C)`` in the model's input space.
        options: the smoothing settings.

    Returns:
        float32 ``(N * samples, H, W, C)``: copies ``i * samples ... (i + 1) * samples - 1`` are of image ``i``.
    """
    rng = np.random.default_rng(int(options.seed))
    span = (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3))).astype(np.float32)
    sigma = (float(options.noise) * span)[:, None, None, None, None]
    reps = np.repeat(x[:, None], int(options.samples), axis=1)
    noise = rng.standard_normal(reps.shape, dtype=np.float32) * sigma
    out: np.ndarray = (reps + noise).reshape(-1, *x.shape[1:]).astype(np.float32, copy=False)
    return out
