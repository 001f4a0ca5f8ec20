"""Depth curves: per layer, the mean of each map statistic with its 95% interval, for correct and
for misclassified images, overall and per true class.

This is the reference study's claim ("on wrong predictions the maps wander off the animal across
depth") as a measurement. Means skip images where a statistic is undefined (an all-zero map, no
mask); ``n`` says how many images each mean stands on. Intervals: Student's t for continuous
statistics, Wilson for the shares (pointing game, blank maps); None where fewer than two images
(one for the shares) have a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from cvd_explorer.atlas.curves import CURVES, MASK_CURVES, Curve, DepthCurves, Series

SHARES = frozenset({"pointing_hit", "blank"})


def depth_curves(
    layers: Sequence[str],
    stats: Mapping[str, np.ndarray],
    correct: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    with_masks: bool,
) -> DepthCurves:
    """The depth curves of the atlas (``summary["depth"]`` is their :meth:`~DepthCurves.to_json`).

    Args:
        layers: conv layer names in depth order, the deepest last (L of them).
        stats: ``{statistic: float32 (N, L)}`` with NaN where undefined.
        correct: bool ``(N,)``.
        labels: int ``(N,)`` index of the true class in ``classes``.
        classes: class names.
        with_masks: include the mask curves (``mass_in_mask``, ``pointing_game``).

    Returns:
        :class:`~cvd_explorer.atlas.curves.DepthCurves` overall and per class; every undefined number is None.
    """
    correct = np.asarray(correct, bool)
    labels = np.asarray(labels, int)
    names = [c for c in CURVES if with_masks or c not in MASK_CURVES]
    overall = {curve: _curve(stats[CURVES[curve]], correct, None, CURVES[curve]) for curve in names}
    by_class = {
        name: {curve: _curve(stats[CURVES[curve]], correct, labels == k, CURVES[curve]) for curve in names}
        for k, name in enumerate(classes)
    }
    return DepthCurves(tuple(layers), overall, by_class)


def _curve(values: np.ndarray, correct: np.ndarray, keep: np.ndarray | None, statistic: str) -> Curve:
    parts = []
    for rows in (correct, ~correct):
        if keep is not None:
            rows = rows & keep
        sel = values[rows]
        found = [mean_interval(sel[:, j], share=statistic in SHARES) for j in range(values.shape[1])]
        parts.append(Series(tuple(m for m, _, _ in found),
                            tuple(None if ci is None else (ci[0], ci[1]) for _, ci, _ in found),
                            tuple(n for _, _, n in found)))
    return Curve(parts[0], parts[1])


def mean_interval(values: np.ndarray, share: bool = False) -> tuple[float | None, list[float] | None, int]:
    """Mean of the finite values with a 95% interval.

    Args:
        values: 1-D array, NaN for missing.
        share: values are 0/1: Wilson score interval; otherwise Student's t.

    Returns:
        ``(mean or None, [lo, hi] or None, n)``.
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return None, None, 0
    mean = float(v.mean())
    if share:
        from cvd_explorer.stats import accuracy_interval

        interval = accuracy_interval(v > 0.5)
        return mean, [interval.low, interval.high], n
    if n < 2:
        return mean, None, n
    from scipy.stats import t

    half = float(t.ppf(0.975, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n)
    return mean, [mean - half, mean + half], n

