"""The atlas' predictions from the pass's logits, for any number of classes.

A one-unit sigmoid head (two classes, the study's setup) gives one logit per image, ``(N,)``: the
positive class's z. A K-unit softmax head gives ``(N, K)``. Everything after this module reads the
probabilities as ``(N, K)`` in class order (:mod:`cvd_explorer.classes`), so it does not care which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvd_explorer.classes import BINARY_THRESHOLD, predicted_indices, probabilities


@dataclass(frozen=True)
class Outcomes:
    """What the model said about each image of the atlas.

    Attributes:
        probs: float64 ``(N, K)`` class probabilities in class order (rows sum to 1).
        predicted: int64 ``(N,)`` predicted class index (argmax; for two classes classes[1] when p > 0.5).
        correct: bool ``(N,)``.
        loss: float64 ``(N,)`` cross-entropy of the true class.
        p: float64 ``(N,)``: ``images.csv``'s ``p``: P(classes[1]) for two classes (as ``predictions.csv``'s
            ``prob``), the predicted class's probability for more.
    """

    probs: np.ndarray
    predicted: np.ndarray
    correct: np.ndarray
    loss: np.ndarray
    p: np.ndarray


def class_probabilities(logits: np.ndarray) -> np.ndarray:
    """float64 ``(N, K)`` from the pass's logits: sigmoid of ``(N,)`` (two columns ``1 - p, p``), softmax
    of ``(N, K)``."""
    z = np.asarray(logits, np.float64)
    if z.ndim == 1:
        return probabilities(1.0 / (1.0 + np.exp(-z)))
    if z.ndim != 2:
        raise ValueError(f"logits must be (N,) or (N, K), got shape {z.shape}")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True), np.float64)


def outcomes(logits: np.ndarray, labels: np.ndarray) -> Outcomes:
    """The :class:`Outcomes` of logits ``(N,)`` or ``(N, K)`` and true class indices int ``(N,)``."""
    from cvd_explorer.runs.evaluate import binary_cross_entropy, cross_entropy

    y = np.asarray(labels, np.int64)
    probs = class_probabilities(logits)
    if np.ndim(logits) == 1:  # binary: exactly the numbers the atlas has always written
        p = probs[:, 1]
        predicted = (p > BINARY_THRESHOLD).astype(np.int64)
        return Outcomes(probs, predicted, predicted == y, binary_cross_entropy(y, p), p)
    predicted = predicted_indices(probs)
    p = probs[np.arange(len(y)), predicted]
    return Outcomes(probs, predicted, predicted == y, cross_entropy(y, probs), p)


def predicted_of_logits(logits: np.ndarray) -> np.ndarray:
    """int64 ``(n,)`` predicted class index of one batch's logits ``(n,)`` (``z > 0``) or ``(n, K)`` (argmax)."""
    z = np.asarray(logits)
    if z.ndim == 1:
        return (z > 0).astype(np.int64)
    return np.asarray(np.argmax(z, axis=1), np.int64)


def confusion(classes: Sequence[str], labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """``{"classes": [K], "matrix": K x K int lists}``: row i the true class i, column j the predicted j
    (the run's :func:`~cvd_explorer.runs.evaluate.class_metrics`, so summary.json and the atlas count alike)."""
    from cvd_explorer.runs.evaluate import class_metrics

    metrics = class_metrics(classes, labels, predicted)
    return {"classes": metrics["classes"], "matrix": metrics["confusion_matrix"]}
