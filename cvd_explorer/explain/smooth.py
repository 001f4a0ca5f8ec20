"""SmoothGrad's noisy copies (Smilkov et al. 2017), shared by the ``smoothgrad`` attribution and smoothed CAMs.

The noise is Gaussian with standard deviation ``noise * (max(x_i) - min(x_i))``: a share of each
image's own value range (over its pixels and channels), as in the paper and in tf-keras-vis. It
therefore lives in whatever input space the model takes (0-255 for the project's models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvd_explorer.explain.options import Options, option


@dataclass(frozen=True)
class SmoothOptions(Options):
    """How to smooth a gradient explanation (fields checked on construction).

    Attributes:
        samples: noisy copies per image (averaged); at least 1.
        noise: standard deviation of the noise as a share of each image's value range (max - min),
            at least 0 (0 gives the unsmoothed explanation).
        seed: seed of the noise (same seed, same copies).
    """

    samples: int = option(25, low=1)
    noise: float = option(0.15, low=0.0)
    seed: int = 0


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
