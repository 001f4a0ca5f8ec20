"""Suspected label errors with cleanlab (confident learning, Northcutt et al. 2021).

cleanlab needs out-of-sample predicted probabilities: the test split's predictions of a model
trained on the train split are; in-sample predictions (``--split train``) make every label look
right and the scores optimistic (:data:`IN_SAMPLE_WARNING`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IN_SAMPLE_WARNING = (
    "these are the model's own training images: the predictions are in-sample, so cleanlab's scores are "
    "biased towards the given labels and label errors are under-reported; trust the test split's list"
)


@dataclass(frozen=True)
class LabelIssues:
    """cleanlab's verdict on one split.

    Attributes:
        scores: float32 ``(N,)``: label-quality score per image (self-confidence; lower is more suspicious).
        suspects: int ``(M,)`` indices of the suspected label errors, most suspicious first.
        suggested: int ``(N,)``: the class cleanlab would give each image (argmax of the probabilities).
    """

    scores: np.ndarray
    suspects: np.ndarray
    suggested: np.ndarray


def find_label_issues(labels: np.ndarray, probs: np.ndarray) -> LabelIssues:
    """Suspected label errors of a split.

    Args:
        labels: int ``(N,)`` given class index.
        probs: out-of-sample predictions: float ``(N,)`` P(classes[1]) of a binary head, or ``(N, K)``
            class probabilities in class order.

    Returns:
        :class:`LabelIssues` (``suggested``: the most probable class). With fewer than two images, or one
        class only, nothing is suspected.
    """
    labels = np.asarray(labels, int)
    pred_probs = _pred_probs(probs)
    suggested = pred_probs.argmax(axis=1)
    if len(labels) < 2 or len(np.unique(labels)) < 2:
        return LabelIssues(pred_probs[np.arange(len(labels)), labels].astype(np.float32), np.zeros(0, int), suggested)
    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the counts speak for themselves
        scores = get_label_quality_scores(labels, pred_probs, method="self_confidence")
        suspects = cl_find(labels, pred_probs, return_indices_ranked_by="self_confidence")
    return LabelIssues(np.asarray(scores, np.float32), np.asarray(suspects, int), suggested)


def _pred_probs(probs: np.ndarray) -> np.ndarray:
    """cleanlab's ``(N, K)`` from ``(N,)`` P(classes[1]) or ``(N, K)``: clipped away from 0 and 1 (and rows
    summed to 1 again for K > 2)."""
    p = np.asarray(probs, np.float64)
    if p.ndim == 1:
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probabilities must be (N,) or (N, K) with K >= 2, got shape {p.shape}")
    p = np.clip(p, 1e-6, 1.0)
    return np.asarray(p / p.sum(axis=1, keepdims=True), np.float64)


def issue_rows(
    issues: LabelIssues, paths: Sequence[str], labels: np.ndarray, classes: Sequence[str]
) -> list[dict[str, object]]:
    """The suspects as JSON rows ``{"path", "label", "suggested", "score"}``, most suspicious first."""
    return [
        {
            "path": paths[i],
            "label": classes[int(labels[i])],
            "suggested": classes[int(issues.suggested[i])],
            "score": float(issues.scores[i]),
        }
        for i in issues.suspects
    ]
