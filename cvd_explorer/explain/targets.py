"""Which score to explain, resolved once per call: per-image class indices, the prediction, or a callable.

The user's target (a class name, a class index, one index per image, ``"predicted"`` or a
callable on the logits) becomes a :class:`Target` in :func:`resolve_target`, the one place that
reads class names (through the given class list, never by guessing an index). ``"predicted"``
stays unresolved while the pass that explains the image also computes its logits (the traced
step takes the argmax in the graph, with no extra forward pass); a pass that needs the classes
first (Score-CAM, smoothing, pixel attributions, metrics) calls :meth:`Target.resolved` with the
clean images' logits, the one place where a prediction becomes class indices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from keras import ops

from cvd_explorer.explain.errors import ExplainError

DEFAULT_CLASSES = ("cat", "dog")

PREDICTED = "predicted"
CLASSES = "classes"
CALLABLE = "callable"


@dataclass(frozen=True)
class Target:
    """A resolved target.

    Attributes:
        kind: ``"classes"`` (one class index per image in ``indices``), ``"predicted"`` (each
            image's predicted class, not resolved yet) or ``"callable"`` (``fn``).
        indices: the class index of every image (``"classes"``); for a one-unit head 1 is the
            positive class (score z) and 0 the negative one (score -z).
        fn: the user's ``callable(logits (N, K) tensor) -> (N,) scores``.
    """

    kind: str
    indices: tuple[int, ...] = ()
    fn: Callable[[Any], Any] | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        """Part of a trace-cache key (every class target shares one trace: it scores with weights)."""
        return (self.kind, id(self.fn) if self.fn is not None else None)

    def resolved(self, logits: np.ndarray) -> Target:
        """``"predicted"`` made explicit from the clean images' ``(N, K)`` logits; any other kind unchanged.

        For a one-unit head the predicted class is the positive one where ``z >= 0``.
        """
        if self.kind != PREDICTED:
            return self
        logits = np.asarray(logits)
        index = (logits[:, 0] >= 0) if logits.shape[-1] == 1 else np.argmax(logits, axis=-1)
        return Target(CLASSES, tuple(int(i) for i in index))

    def repeated(self, k: int) -> Target:
        """The target of ``k`` consecutive copies of every image (noisy copies, path points)."""
        if self.kind != CLASSES:
            return self
        return Target(CLASSES, tuple(int(i) for i in np.repeat(self.indices, k)))

    def weights(self, units: int, n: int) -> np.ndarray:
        """Class weights ``(n, K)`` float32 with score ``sum(logits * weights, axis=-1)``.

        A one-unit head scores the positive class with +z and the negative with -z. A callable or
        a ``"predicted"`` target gets zeros: :func:`scores` ignores them (it takes the argmax of
        the logits it is given, so a pass on altered copies must use :meth:`resolved` first).
        """
        if self.kind != CLASSES:
            return np.zeros((n, units), np.float32)
        idx = np.asarray(self.indices, np.int64)
        if len(idx) != n:
            raise ExplainError(f"the target names {len(idx)} classes for {n} images")
        if units == 1:
            return np.where(idx == 1, 1.0, -1.0).astype(np.float32)[:, None]
        weights: np.ndarray = np.eye(units, dtype=np.float32)[idx]
        return weights


def resolve_target(target: Any, units: int, n: int, classes: Sequence[str] | None = None) -> Target:
    """Turn the user's ``target`` into a :class:`Target` for ``n`` images.

    Args:
        target: ``"predicted"``; a class name from ``classes`` (for a one-unit head,
            ``classes[1]`` is the positive class: its score is the logit z, the other's is -z);
            an int class index; a sequence or 1-D integer array of class indices, one per image;
            or ``callable(logits (N, K) float32 tensor) -> (N,) scores``; or a resolved :class:`Target`.
        units: K, the number of head outputs.
        n: the number of images.
        classes: class names in index order; defaults to ``("cat", "dog")`` (dog positive).

    Raises:
        ExplainError: an unknown name, an index out of range, a per-image list of another length.
    """
    n_classes = 2 if units == 1 else units
    if isinstance(target, Target):  # already resolved (e.g. guided Grad-CAM's CAM of its own request)
        return target if target.kind != CLASSES else _indices(np.asarray(target.indices), n_classes, n)
    if callable(target):
        return Target(CALLABLE, fn=target)
    if isinstance(target, str):
        return Target(PREDICTED) if target == PREDICTED else _named(target, n_classes, n, classes)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        return _indices(np.full(n, int(target)), n_classes, n)
    if isinstance(target, (list, tuple, np.ndarray)):
        arr = np.asarray(target)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise ExplainError(f"a per-image target must be a 1-D sequence of class indices, got {arr.dtype} "
                               f"{arr.shape}")
        return _indices(arr, n_classes, n)
    raise ExplainError(f"target must be a str, an int or a callable, not {type(target).__name__}")


def _named(name: str, n_classes: int, n: int, classes: Sequence[str] | None) -> Target:
    names = tuple(classes) if classes is not None else DEFAULT_CLASSES
    if name not in names:
        raise ExplainError(
            f"unknown target {name!r}; choose 'predicted', a class name ({', '.join(map(repr, names))}), "
            f"a class index 0..{n_classes - 1} or a callable on the logits"
        )
    if len(names) != n_classes:
        raise ExplainError(f"the model has {n_classes} classes but {len(names)} class names were given "
                           f"({', '.join(names)}); pass classes= with one name per class")
    return _indices(np.full(n, names.index(name)), n_classes, n)


def _indices(arr: np.ndarray, n_classes: int, n: int) -> Target:
    if len(arr) != n:
        raise ExplainError(f"the per-image target names {len(arr)} classes for {n} images")
    if arr.min() < 0 or arr.max() >= n_classes:
        what = f"index {arr.min()}" if arr.min() == arr.max() else f"indices {arr.min()}..{arr.max()}"
        raise ExplainError(f"target {what} out of range; the model has classes 0..{n_classes - 1}")
    return Target(CLASSES, tuple(int(i) for i in arr))


def scores(target: Target, logits: Any, weights: Any) -> Any:
    """Per-image scores ``(N,)`` (keras.ops; runs inside the traced graph).

    Args:
        target: the resolved target.
        logits: ``(N, K)`` float32 logits.
        weights: ``(N, K)`` float32 from :meth:`Target.weights` (ignored for ``"predicted"`` and callables).
    """
    if target.fn is not None:
        out = ops.convert_to_tensor(target.fn(logits))
        return ops.reshape(ops.cast(out, "float32"), (-1,))
    if target.kind == PREDICTED:  # the argmax of these logits (the clean image's: this pass computes them)
        if logits.shape[-1] == 1:
            weights = ops.where(logits >= 0, 1.0, -1.0)
        else:
            weights = ops.one_hot(ops.argmax(logits, axis=-1), logits.shape[-1], dtype="float32")
        weights = ops.stop_gradient(weights)
    return ops.sum(logits * weights, axis=-1)
