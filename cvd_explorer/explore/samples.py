"""The sample table: one row per image with its prediction, and pure filters over it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

PREDICTION_FILTERS = ("all", "correct", "misclassified")
SORT_KEYS = ("confidence", "loss", "name", "selection")
_EPS = 1e-7


@dataclass(frozen=True)
class SampleRow:
    """One image and what the model said about it.

    Attributes:
        key: identifies the sample: the absolute image path for a run, the given path or a
            generated name (``sample_0007``) for arrays.
        name: file name shown and sorted on.
        label: true class name, or None when unknown.
        predicted: predicted class name.
        prob: P(positive class), float in [0, 1].
        correct: whether ``predicted == label``; None when the label is unknown.
        loss: per-image binary cross-entropy (NaN when the label is unknown).
        index: position in the source (row of ``predictions.csv`` or of the image array).
    """

    key: str
    name: str
    label: str | None
    predicted: str
    prob: float
    correct: bool | None
    loss: float
    index: int

    @property
    def confidence(self) -> float:
        """Probability of the predicted class: ``max(prob, 1 - prob)``."""
        return max(self.prob, 1.0 - self.prob)


def binary_loss(prob: float, positive: bool) -> float:
    """Binary cross-entropy of one prediction ``prob`` = P(positive) for a true ``positive`` label."""
    p = min(max(float(prob), _EPS), 1.0 - _EPS)
    return -math.log(p) if positive else -math.log(1.0 - p)


def rows_from_predictions(predictions: Iterable[dict[str, Any]]) -> list[SampleRow]:
    """Rows from :attr:`cvd_explorer.runs.Run.predictions` dicts (path, label, prob, predicted, correct, loss)."""
    rows = []
    for i, p in enumerate(predictions):
        path = str(p["path"])
        rows.append(
            SampleRow(
                key=path,
                name=PurePath(path).name,
                label=p["label"],
                predicted=p["predicted"],
                prob=float(p["prob"]),
                correct=bool(p["correct"]),
                loss=float(p["loss"]),
                index=i,
            )
        )
    return rows


def rows_from_arrays(
    probs: Sequence[float],
    classes: tuple[str, str],
    labels: Sequence[Any] | None = None,
    keys: Sequence[str] | None = None,
) -> list[SampleRow]:
    """Rows for images given as arrays.

    Args:
        probs: P(positive) per image, ``(N,)``.
        classes: ``(negative, positive)`` class names.
        labels: per image a class name or index 0/1 (1 = positive); None when unknown.
        keys: per image a path or name; default ``sample_0000`` ... .
    """
    n = len(probs)
    if keys is None:
        keys = [f"sample_{i:04d}" for i in range(n)]
    if len(keys) != n or (labels is not None and len(labels) != n):
        n_labels = None if labels is None else len(labels)
        raise ValueError(f"got {n} predictions but {len(keys)} paths and {n_labels} labels")
    rows = []
    for i in range(n):
        prob = float(probs[i])
        predicted = classes[1] if prob >= 0.5 else classes[0]
        label = None if labels is None else _label_name(labels[i], classes)
        correct = None if label is None else predicted == label
        loss = float("nan") if label is None else binary_loss(prob, label == classes[1])
        rows.append(SampleRow(str(keys[i]), PurePath(str(keys[i])).name, label, predicted, prob, correct, loss, i))
    return rows


def _label_name(label: Any, classes: tuple[str, str]) -> str:
    if isinstance(label, str):
        if label not in classes:
            raise ValueError(f"label {label!r} is not one of the classes {classes}")
        return label
    value = int(label)
    if value not in (0, 1):
        raise ValueError(f"label {label!r} must be 0 ({classes[0]}) or 1 ({classes[1]})")
    return classes[value]


def filter_rows(
    rows: Sequence[SampleRow],
    prediction: str = "all",
    label: str | None = None,
    sort: str = "name",
    descending: bool | None = None,
) -> list[SampleRow]:
    """Select and order rows; a pure function of its arguments.

    Args:
        rows: the sample table.
        prediction: ``"all"``, ``"correct"`` or ``"misclassified"`` (rows with an unknown label
            are neither correct nor misclassified).
        label: keep only this true class; None or ``"all"`` keeps every class.
        sort: ``"confidence"`` (of the predicted class), ``"loss"``, ``"name"`` or ``"selection"``
            (keep the order of ``rows``: the Atlas's order, e.g. by label-issue score).
        descending: default True for confidence and loss (the most confident / costly mistakes
            first), False for name.

    Returns:
        A new list of rows.
    """
    if prediction not in PREDICTION_FILTERS:
        raise ValueError(f"prediction must be one of {PREDICTION_FILTERS}, got {prediction!r}")
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {SORT_KEYS}, got {sort!r}")
    kept = [
        r
        for r in rows
        if (prediction == "all" or r.correct is (prediction == "correct"))
        and (label in (None, "all") or r.label == label)
    ]
    if sort == "selection":
        return kept
    if descending is None:
        descending = sort != "name"
    if sort == "name":
        key = lambda r: (r.name, r.key)  # noqa: E731
    elif sort == "confidence":
        key = lambda r: (r.confidence, r.name)  # noqa: E731
    else:
        key = lambda r: (-math.inf if math.isnan(r.loss) else r.loss, r.name)  # noqa: E731
    return sorted(kept, key=key, reverse=descending)


def count_text(
    shown: int, total: int, prediction: str = "all", label: str | None = None, selected: int | None = None
) -> str:
    """Human count of a filter result, e.g. ``"312 misclassified of 4,000"``; with ``selected``
    (the size of an Atlas selection) e.g. ``"12 images of 4,000 (atlas selection: 40)"``."""
    what = {"all": "images", "correct": "correct", "misclassified": "misclassified"}[prediction]
    if label not in (None, "all"):
        what = f"{what} ({label})"
    text = f"{shown:,} {what} of {total:,}"
    return text if selected is None else f"{text} (atlas selection: {selected:,})"


def restrict_rows(rows: Sequence[SampleRow], keys: Iterable[str] | None) -> list[SampleRow]:
    """The rows whose key is in ``keys`` (the Atlas's selection), in the order of ``keys``; None keeps
    every row. Keys without a row are ignored.

    Applied before :func:`filter_rows`, so the Explorer's own filters still work on top.
    """
    if keys is None:
        return list(rows)
    by_key = {r.key: r for r in rows}
    return [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
