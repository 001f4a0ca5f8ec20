"""The sample table: one row per image with its prediction (K class probabilities), and pure filters over it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np

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
        prob: for two classes P(positive class), for K > 2 the predicted class's probability; in [0, 1].
        correct: whether ``predicted == label``; None when the label is unknown.
        loss: per-image cross-entropy (NaN when the label is unknown).
        index: position in the source (row of ``predictions.csv`` or of the image array).
        probs: the K class probabilities in class order (for two classes ``(1 - prob, prob)``); empty
            when unknown (a row built by hand), read as ``(1 - prob, prob)``.
        relpath: the image's path as in the manifest (and the atlas) for a run, else None.
    """

    key: str
    name: str
    label: str | None
    predicted: str
    prob: float
    correct: bool | None
    loss: float
    index: int
    probs: tuple[float, ...] = ()
    relpath: str | None = None

    @property
    def confidence(self) -> float:
        """Probability of the predicted class: ``max(prob, 1 - prob)`` for two classes, else ``max(probs)``."""
        if len(self.probs) > 2:
            return max(self.probs)
        return max(self.prob, 1.0 - self.prob)

    def class_probs(self) -> tuple[float, ...]:
        """The K class probabilities in class order (``(1 - prob, prob)`` for a two-class row without them)."""
        return self.probs if self.probs else (1.0 - self.prob, self.prob)

    def top(self, classes: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
        """The ``min(k, K)`` most probable classes with their probabilities, most probable first."""
        from cvd_explorer.classes import top_k

        return top_k(np.asarray(self.class_probs()), classes, min(int(k), len(classes)))


def binary_loss(prob: float, positive: bool) -> float:
    """Binary cross-entropy of one prediction ``prob`` = P(positive) for a true ``positive`` label."""
    p = min(max(float(prob), _EPS), 1.0 - _EPS)
    return -math.log(p) if positive else -math.log(1.0 - p)


def cross_entropy(probs: Sequence[float], label: int) -> float:
    """Cross-entropy ``-log p[label]`` of one prediction (K probabilities), clipped like :func:`binary_loss`."""
    return -math.log(min(max(float(probs[label]), _EPS), 1.0 - _EPS))


def rows_from_predictions(predictions: Iterable[dict[str, Any]]) -> list[SampleRow]:
    """Rows from :attr:`cvd_explorer.runs.Run.predictions` dicts (path, relpath, label, prob, probs,
    predicted, correct, loss)."""
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
                probs=tuple(float(v) for v in p.get("probs") or ()),
                relpath=None if p.get("relpath") is None else str(p["relpath"]),
            )
        )
    return rows


def rows_from_arrays(
    probs: Any,
    classes: Sequence[str],
    labels: Sequence[Any] | None = None,
    keys: Sequence[str] | None = None,
) -> list[SampleRow]:
    """Rows for images given as arrays.

    Args:
        probs: P(positive) per image ``(N,)`` for two classes, or the class probabilities ``(N, K)``.
        classes: the K class names in index order (for two classes ``(negative, positive)``).
        labels: per image a class name or index 0..K-1 (for two classes 1 = positive); None when unknown.
        keys: per image a path or name; default ``sample_0000`` ... .
    """
    p = np.asarray(probs, dtype=np.float64)
    classes = tuple(str(c) for c in classes)
    if p.ndim == 2 and p.shape[1] != len(classes):
        raise ValueError(f"the model gives {p.shape[1]} class probabilities but {len(classes)} class names were "
                         f"given ({', '.join(classes)}); pass classes= with one name per model output")
    if p.ndim not in (1, 2) or (p.ndim == 1 and len(classes) != 2):
        raise ValueError(f"probabilities must be (N,) P(positive) for two classes or (N, K), got shape {p.shape} "
                         f"for {len(classes)} classes")
    n = len(p)
    if keys is None:
        keys = [f"sample_{i:04d}" for i in range(n)]
    if len(keys) != n or (labels is not None and len(labels) != n):
        n_labels = None if labels is None else len(labels)
        raise ValueError(f"got {n} predictions but {len(keys)} paths and {n_labels} labels")
    rows = []
    for i in range(n):
        label = None if labels is None else _label_name(labels[i], classes)
        if p.ndim == 1 or len(classes) == 2:  # P(positive): the binary threshold, as before
            prob = float(p[i]) if p.ndim == 1 else float(p[i, 1])
            class_probs: tuple[float, ...] = (1.0 - prob, prob)
            predicted = classes[1] if prob >= 0.5 else classes[0]
            loss = float("nan") if label is None else binary_loss(prob, label == classes[1])
        else:
            class_probs = tuple(float(v) for v in p[i])
            top = int(np.argmax(p[i]))
            predicted, prob = classes[top], class_probs[top]
            loss = float("nan") if label is None else cross_entropy(class_probs, classes.index(label))
        correct = None if label is None else predicted == label
        rows.append(SampleRow(str(keys[i]), PurePath(str(keys[i])).name, label, predicted, prob, correct, loss, i,
                              class_probs))
    return rows


def _label_name(label: Any, classes: tuple[str, ...]) -> str:
    if isinstance(label, str):
        if label not in classes:
            raise ValueError(f"label {label!r} is not one of the classes {classes}")
        return label
    value = int(label)
    if len(classes) == 2 and value not in (0, 1):
        raise ValueError(f"label {label!r} must be 0 ({classes[0]}) or 1 ({classes[1]})")
    if not 0 <= value < len(classes):
        raise ValueError(f"label {label!r} must be a class index 0..{len(classes) - 1} or a class name")
    return classes[value]


def filter_rows(
    rows: Sequence[SampleRow],
    prediction: str = "all",
    label: str | None = None,
    sort: str = "name",
    descending: bool | None = None,
    predicted: str | None = None,
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
        predicted: keep only this predicted class; None or ``"all"`` keeps every prediction (with
            ``label`` it is one cell of the confusion matrix).

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
        and (predicted in (None, "all") or r.predicted == predicted)
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
    shown: int, total: int, prediction: str = "all", label: str | None = None, selected: int | None = None,
    predicted: str | None = None, selection: str = "atlas selection",
) -> str:
    """Human count of a filter result, e.g. ``"312 misclassified of 4,000"``; with ``selected``
    (the size of an Atlas selection) e.g. ``"12 images of 4,000 (atlas selection: 40)"``; with a
    ``predicted`` class e.g. ``"3 images (true 7, predicted 1) of 40"`` (``selection`` names the
    restriction: ``"atlas selection"`` or ``"similar images"``)."""
    what = {"all": "images", "correct": "correct", "misclassified": "misclassified"}[prediction]
    if predicted not in (None, "all"):
        true = "" if label in (None, "all") else f"true {label}, "
        what = f"{what} ({true}predicted {predicted})"
    elif label not in (None, "all"):
        what = f"{what} ({label})"
    text = f"{shown:,} {what} of {total:,}"
    return text if selected is None else f"{text} ({selection}: {selected:,})"


def confusion_counts(rows: Sequence[SampleRow], classes: Sequence[str]) -> np.ndarray:
    """int64 ``(K, K)`` counts of the labelled ``rows``: row i the true class i, column j the predicted class j."""
    from cvd_explorer.stats import confusion_matrix

    names = {str(c) for c in classes}
    labelled = [r for r in rows if r.label in names and r.predicted in names]
    return confusion_matrix([str(r.label) for r in labelled], [r.predicted for r in labelled],
                            [str(c) for c in classes])


def restrict_rows(rows: Sequence[SampleRow], keys: Iterable[str] | None) -> list[SampleRow]:
    """The rows whose key is in ``keys`` (the Atlas's selection), in the order of ``keys``; None keeps
    every row. Keys without a row are ignored.

    Applied before :func:`filter_rows`, so the Explorer's own filters still work on top.
    """
    if keys is None:
        return list(rows)
    by_key = {r.key: r for r in rows}
    return [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
