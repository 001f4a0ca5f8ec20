"""Which score to explain: a class name, a class index, the prediction, or a callable on logits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from keras import ops

from cvd_explorer.explain.errors import ExplainError

DEFAULT_CLASSES = ("cat", "dog")


@dataclass(frozen=True)
class Target:
    """A resolved target.

    Attributes:
        kind: ``"fixed"`` (score = sum(logits * sign_or_onehot)), ``"per-image"`` (the same, one
            class index per image), ``"predicted"`` (per image, the predicted class) or ``"callable"``.
        index: class index for ``"fixed"`` (for a one-unit head: 1 = positive, 0 = negative).
        fn: the user's callable for ``"callable"``.
        indices: class index per image for ``"per-image"``.
    """

    kind: str
    index: int = 0
    fn: Callable[[Any], Any] | None = None
    indices: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, int | None]:
        """Part of the trace-cache key (fixed and per-image indices share one trace: both score with weights)."""
        kind = "fixed" if self.kind == "per-image" else self.kind
        return (kind, id(self.fn) if self.fn is not None else None)


def resolve_target(target: Any, units: int, classes: Sequence[str] | None = None) -> Target:
    """Turn the user's ``target`` into a :class:`Target`.

    Args:
        target: ``"predicted"``; a class name from ``classes`` (for a one-unit head,
            ``classes[1]`` is the positive class: its score is the logit z, the other's is -z);
            an int class index; a sequence or 1-D integer array of class indices, one per image;
            or ``callable(logits (N, K) float32 tensor) -> (N,) scores``.
        units: K, the number of head outputs.
        classes: class names in index order; defaults to ``("cat", "dog")`` (dog positive).
    """
    classes = tuple(classes) if classes is not None else DEFAULT_CLASSES
    n_classes = 2 if units == 1 else units
    if callable(target):
        return Target("callable", fn=target)
    if isinstance(target, str):
        if target == "predicted":
            return Target("predicted")
        if target in classes:
            index = classes.index(target)
        else:
            raise ExplainError(
                f"unknown target {target!r}; choose 'predicted', a class name ({', '.join(map(repr, classes))}), "
                f"a class index 0..{n_classes - 1} or a callable on the logits"
            )
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        index = int(target)
    elif isinstance(target, (list, tuple, np.ndarray)):
        return _per_image(target, n_classes)
    else:
        raise ExplainError(f"target must be a str, an int or a callable, not {type(target).__name__}")
    if not 0 <= index < n_classes:
        raise ExplainError(f"target index {index} is out of range; the model has classes 0..{n_classes - 1}")
    return Target("fixed", index=index)


def _per_image(target: Any, n_classes: int) -> Target:
    arr = np.asarray(target)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ExplainError(f"a per-image target must be a 1-D sequence of class indices, got {arr.dtype} {arr.shape}")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ExplainError(f"per-image target indices must be in 0..{n_classes - 1}, got {arr.min()}..{arr.max()}")
    return Target("per-image", indices=tuple(int(i) for i in arr))


def class_weights(target: Target, n: int, units: int) -> np.ndarray:
    """Weights ``(n, K)`` float32 such that the score is ``sum(logits * weights, axis=-1)``.

    A one-unit head scores the positive class with +z and the negative with -z.

    Raises:
        ExplainError: a per-image target whose length is not ``n``.
    """
    w = np.zeros((n, units), np.float32)
    if target.kind == "per-image":
        if len(target.indices) != n:
            raise ExplainError(f"the per-image target names {len(target.indices)} classes for {n} images")
        idx = np.asarray(target.indices)
        if units == 1:
            w[:, 0] = np.where(idx == 1, 1.0, -1.0)
        else:
            w[np.arange(n), idx] = 1.0
        return w
    if target.kind != "fixed":
        return w
    if units == 1:
        w[:, 0] = 1.0 if target.index == 1 else -1.0
    else:
        w[:, target.index] = 1.0
    return w


def predicted_class_weights(logits: np.ndarray) -> np.ndarray:
    """Weights ``(N, K)`` float32 that score each image's predicted class (as :func:`class_weights`).

    Args:
        logits: ``(N, K)`` logits; for a one-unit head (``K = 1``) the predicted class is the
            positive one where ``z >= 0`` (weight +1), else the negative one (weight -1).
    """
    logits = np.asarray(logits)
    units = logits.shape[-1]
    if units == 1:
        return np.where(logits >= 0, 1.0, -1.0).astype(np.float32)
    weights: np.ndarray = np.eye(units, dtype=np.float32)[np.argmax(logits, axis=-1)]
    return weights


def scores(target: Target, logits: Any, weights: Any) -> Any:
    """Per-image scores ``(N,)`` (keras.ops; runs inside the traced graph).

    Args:
        target: the resolved target.
        logits: ``(N, K)`` float32 logits.
        weights: ``(N, K)`` float32 from :func:`class_weights` (ignored unless fixed).
    """
    if target.fn is not None:
        out = ops.convert_to_tensor(target.fn(logits))
        return ops.reshape(ops.cast(out, "float32"), (-1,))
    if target.kind == "predicted":
        if logits.shape[-1] == 1:
            weights = ops.where(logits >= 0, 1.0, -1.0)
        else:
            weights = ops.one_hot(ops.argmax(logits, axis=-1), logits.shape[-1], dtype="float32")
        weights = ops.stop_gradient(weights)
    return ops.sum(logits * weights, axis=-1)
