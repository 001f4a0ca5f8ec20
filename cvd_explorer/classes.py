"""K classes in one place: the head's width, probabilities from a model's outputs, predicted classes.

Two classes keep the seed's one-unit sigmoid head, whose output is P(classes[1]); K > 2 classes get a
K-unit softmax head. Everything downstream reads probabilities as an ``(N, K)`` matrix in class order
(for a one-unit head the columns are ``1 - p`` and ``p``), so no caller needs to know which head it has.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PROB_PREFIX = "p_"
BINARY_THRESHOLD = 0.5  # a one-unit head predicts classes[1] when p > 0.5, as Keras' binary accuracy


def head_units(k: int) -> int:
    """Output units of the head for ``k`` classes: 1 (sigmoid) for two, else ``k`` (softmax)."""
    if k < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {k}")
    return 1 if k == 2 else k


def probabilities(outputs: np.ndarray) -> np.ndarray:
    """Class probabilities float64 ``(N, K)`` from a model's outputs ``(N,)``, ``(N, 1)`` or ``(N, K)``.

    A one-unit output is P(classes[1]) and becomes the two columns ``(1 - p, p)``.
    """
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2:
        raise ValueError(f"model outputs must be (N,) or (N, K), got shape {out.shape}")
    if out.shape[1] == 1:
        return np.concatenate([1.0 - out, out], axis=1)
    return out


def predicted_indices(probs: np.ndarray) -> np.ndarray:
    """Predicted class index int64 ``(N,)`` from probabilities ``(N, K)`` (ties go to the lower index,
    so for two classes classes[1] is predicted when p > 0.5, exactly as the binary threshold)."""
    indices: np.ndarray = np.argmax(np.asarray(probs), axis=1).astype(np.int64)
    return indices


def prob_columns(classes: Sequence[str]) -> tuple[str, ...]:
    """The ``p_<class>`` column names of ``predictions.csv`` for K > 2 classes, in class order."""
    return tuple(f"{PROB_PREFIX}{name}" for name in classes)


def top_k(probs: np.ndarray, classes: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one image's probabilities ``(K,)``, most probable first."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.shape[0] != len(classes):
        raise ValueError(f"{p.shape[0]} probabilities for {len(classes)} classes")
    order = np.argsort(-p, kind="stable")[: max(1, k)]
    return [(str(classes[i]), float(p[i])) for i in order]
