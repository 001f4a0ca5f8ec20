"""Paired comparison of two classifiers on the same test images: pure functions, no widgets.

Wilson intervals for accuracy (overall and per class), McNemar's test on the discordant pairs,
confusion matrices, the four agreement cells and the shared mistakes split by predicted class. (The
relative-depth mapping between two ResNets is in :mod:`cvd_explorer.depth`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

AGREEMENT_CELLS = ("all", "both_right", "both_wrong", "only_a", "only_b")


@dataclass(frozen=True)
class Interval:
    """A proportion with its confidence interval."""

    value: float
    low: float
    high: float
    n: int


def accuracy_interval(correct: npt.ArrayLike, level: float = 0.95) -> Interval:
    """Accuracy with a Wilson score interval (good near 0 and 1, unlike the normal one).

    Args:
        correct: (N,) booleans (or 0/1), one per test image; N > 0.
        level: confidence level of the two-sided interval.

    Raises:
        ValueError: no predictions (N == 0).
    """
    from scipy.stats import binomtest  # here: scipy.stats takes a moment to import

    flags = np.asarray(correct, dtype=bool)
    n = int(flags.size)
    if n == 0:
        raise ValueError("no predictions to compute an accuracy from")
    k = int(flags.sum())
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return Interval(k / n, float(ci.low), float(ci.high), n)


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


def mcnemar(correct_a: npt.ArrayLike, correct_b: npt.ArrayLike) -> McNemar:
    """McNemar's test for two models' correctness on the same images (same order).

    Args:
        correct_a, correct_b: (N,) booleans (or 0/1).
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
    from scipy.stats import binomtest, chi2  # here: scipy.stats takes a moment to import

    if discordant < 25:  # exact: the smaller count against Binomial(discordant, 1/2), two-sided
        k = min(only_a, only_b)
        return McNemar(only_a, only_b, float(k), float(binomtest(k, discordant).pvalue), "exact")
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return McNemar(only_a, only_b, statistic, float(chi2.sf(statistic, df=1)), "chi-squared")


def confusion_matrix(
    labels: Sequence[str], predicted: Sequence[str], classes: Sequence[str]
) -> npt.NDArray[np.int64]:
    """Counts (C, C) int64: row = true class, column = predicted class, in ``classes`` order."""
    index = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for true, pred in zip(labels, predicted, strict=True):
        matrix[index[true], index[pred]] += 1
    return matrix


def agreement_cells(correct_a: npt.ArrayLike, correct_b: npt.ArrayLike) -> dict[str, npt.NDArray[np.intp]]:
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


def per_class_accuracy(
    labels: Sequence[str], predicted: Sequence[str], classes: Sequence[str], level: float = 0.95
) -> dict[str, Interval | None]:
    """Accuracy of each true class (its recall) with a Wilson interval, in ``classes`` order.

    Args:
        labels, predicted: (N,) class names, true and predicted, paired.
        classes: the K class names; every label must be one of them.

    Returns:
        ``{class: Interval}``; None for a class with no image.
    """
    if len(labels) != len(predicted):
        raise ValueError(f"labels and predictions must be paired, got {len(labels)} and {len(predicted)}")
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown[:3]} are not among the classes {list(classes)}")
    true = np.asarray(labels, dtype=object)
    right = true == np.asarray(predicted, dtype=object)
    return {c: accuracy_interval(right[true == c], level) if np.any(true == c) else None for c in classes}


@dataclass(frozen=True)
class SharedMistakes:
    """The images both models get wrong, split by whether they predict the same wrong class.

    Attributes:
        same: both wrong with the same (wrong) prediction; different: both wrong, different predictions.
    """

    same: int
    different: int


def shared_mistakes(predicted_a: Sequence[str], predicted_b: Sequence[str], labels: Sequence[str]) -> SharedMistakes:
    """Count the both-wrong images by whether A and B predicted the same class (always the same for two classes)."""
    a, b, true = (np.asarray(x, dtype=object) for x in (predicted_a, predicted_b, labels))
    if not a.shape == b.shape == true.shape:
        raise ValueError(f"paired predictions must have the same length, got {a.shape}, {b.shape} and {true.shape}")
    both_wrong = (a != true) & (b != true)
    same = int(np.sum(both_wrong & (a == b)))
    return SharedMistakes(same, int(both_wrong.sum()) - same)
