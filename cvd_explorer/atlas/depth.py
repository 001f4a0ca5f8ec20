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
from typing import Any

import numpy as np

# curve name in the atlas JSON -> statistic of cvd_explorer.atlas.mapstats
CURVES: dict[str, str] = {
    "agreement_with_last": "agreement",
    "concentration": "concentration",
    "mass_in_mask": "mass_in_mask",
    "pointing_game": "pointing_hit",
    "blank_share": "blank",
}
SHARES = frozenset({"pointing_hit", "blank"})
MASK_CURVES = frozenset({"mass_in_mask", "pointing_game"})
GROUPS = ("correct", "misclassified")


def depth_curves(
    layers: Sequence[str],
    stats: Mapping[str, np.ndarray],
    correct: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    with_masks: bool,
) -> dict[str, Any]:
    """The ``"depth"`` object of the atlas.

    Args:
        layers: conv layer names in depth order, the deepest last (L of them).
        stats: ``{statistic: float32 (N, L)}`` with NaN where undefined.
        correct: bool ``(N,)``.
        labels: int ``(N,)`` index of the true class in ``classes``.
        classes: class names.
        with_masks: include the mask curves (``mass_in_mask``, ``pointing_game``).

    Returns:
        ``{"layers", <curve>: {"correct": [L], "misclassified": [L]}, "by_class": {class: {<curve>: ...}},
        "intervals": {<curve>: {group: [[lo, hi] | None] * L}, "by_class": {...}}, "n": {...}}``; every
        undefined number is None.
    """
    correct = np.asarray(correct, bool)
    labels = np.asarray(labels, int)
    names = [c for c in CURVES if with_masks or c not in MASK_CURVES]
    out: dict[str, Any] = {"layers": list(layers)}
    intervals: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    for curve in names:
        out[curve], intervals[curve], counts[curve] = _groups(stats[CURVES[curve]], correct, None, CURVES[curve])
    by_class: dict[str, Any] = {}
    by_class_int: dict[str, Any] = {}
    by_class_n: dict[str, Any] = {}
    for k, name in enumerate(classes):
        means, ints, ns = {}, {}, {}
        for curve in names:
            means[curve], ints[curve], ns[curve] = _groups(stats[CURVES[curve]], correct, labels == k, CURVES[curve])
        by_class[name], by_class_int[name], by_class_n[name] = means, ints, ns
    out["by_class"] = by_class
    intervals["by_class"] = by_class_int
    counts["by_class"] = by_class_n
    out["intervals"] = intervals
    out["n"] = counts
    return out


def _groups(
    values: np.ndarray, correct: np.ndarray, keep: np.ndarray | None, statistic: str
) -> tuple[dict[str, list[float | None]], dict[str, list[list[float] | None]], dict[str, list[int]]]:
    means: dict[str, list[float | None]] = {}
    ints: dict[str, list[list[float] | None]] = {}
    ns: dict[str, list[int]] = {}
    for group, rows in (("correct", correct), ("misclassified", ~correct)):
        if keep is not None:
            rows = rows & keep
        sel = values[rows]
        column_means, column_ints, column_ns = [], [], []
        for j in range(values.shape[1]):
            m, ci, n = mean_interval(sel[:, j], share=statistic in SHARES)
            column_means.append(m)
            column_ints.append(ci)
            column_ns.append(n)
        means[group], ints[group], ns[group] = column_means, column_ints, column_ns
    return means, ints, ns


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

