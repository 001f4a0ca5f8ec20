"""Paired comparison of two classifiers on the same test images: pure functions, no widgets.

Wilson intervals for accuracy, McNemar's test on the discordant pairs, confusion matrices and the
four agreement cells. (The relative-depth mapping between two ResNets is in :mod:`cvd_explorer.depth`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


AGREEMENT_CELLS = ("all", "both_right", "both_wrong", "only_a", "only_b")


@dataclass(frozen=True)
class Interval:
    """A proportion with its confidence interval."""

    value: float
    low: float
    high: float
    n: int


def accuracy_interval(correct: Sequence[bool], level: float = 0.95) -> Interval:
    """Accuracy with a Wilson score interval (good near 0 and 1, unlike the normal one).

    Args:
        correct: (N,) booleans, one per test image.
    """
    correct = np.asarray(correct, dtype=bool)
    n = int(correct.size)
    if n == 0:
        raise ValueError("no predictions to compute an accuracy from")
    z = _normal_quantile(0.5 + level / 2)
    p = float(correct.mean())
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on paired predictions.

    Attributes:
        only_a: images A got right and B wrong (b in the usual notation).
        only_b: images B got right and A wrong (c).
        p_value: two-sided; exact binomial when only_a + only_b < 25, else chi-squared with
            continuity correction.
    """

    only_a: int
    only_b: int
    statistic: float
    p_value: float
    method: str

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha

    def sentence(self, name_a: str = "A", name_b: str = "B", alpha: float = 0.05) -> str:
        """The result in words, e.g. "the difference is not significant at 5% (p = 0.31, ...)"."""
        verdict = "is" if self.significant(alpha) else "is not"
        return (
            f"The difference between {name_a} and {name_b} {verdict} significant at {alpha:.0%} "
            f"(McNemar {self.method}, p = {self.p_value:.3g}; {self.only_a} images only {name_a} "
            f"got right, {self.only_b} only {name_b})."
        )


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemar:
    """McNemar's test for two models' correctness on the same images (same order).

    Args:
        correct_a, correct_b: (N,) booleans.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired predictions must have the same length, got {a.shape} and {b.shape}")
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    discordant = only_a + only_b
    if discordant == 0:
        return McNemar(0, 0, 0.0, 1.0, "exact")
    if discordant < 25:
        k = min(only_a, only_b)
        tail = sum(math.comb(discordant, i) for i in range(k + 1)) / 2**discordant
        return McNemar(only_a, only_b, float(k), min(1.0, 2 * tail), "exact")
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    p_value = math.erfc(math.sqrt(statistic / 2))  # chi-squared survival, 1 degree of freedom
    return McNemar(only_a, only_b, statistic, p_value, "chi-squared")


def confusion_matrix(labels: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts (C, C) int64: row = true class, column = predicted class, in ``classes`` order."""
    index = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for true, pred in zip(labels, predicted):
        matrix[index[true], index[pred]] += 1
    return matrix


def agreement_cells(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, np.ndarray]:
    """Indices (into the paired arrays) of each agreement cell of :data:`AGREEMENT_CELLS`."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    return {
        "all": np.arange(a.size),
        "both_right": np.flatnonzero(a & b),
        "both_wrong": np.flatnonzero(~a & ~b),
        "only_a": np.flatnonzero(a & ~b),
        "only_b": np.flatnonzero(~a & b),
    }


def _normal_quantile(q: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if q < 0.02425:
        r = math.sqrt(-2 * math.log(q))
        return (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / (
            (((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
    if q > 1 - 0.02425:
        return -_normal_quantile(1 - q)
    r = (q - 0.5) ** 2
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * (q - 0.5) / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
