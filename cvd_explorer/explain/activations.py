"""Activations of many layers in one forward pass, plus the validation and trace cache they share.

The view itself (how inner layers of nested models are reached without mutating or rebuilding
the model) is described in :mod:`cvd_explorer.explain.view`. Traced steps are cached per model
(weakly: a cache never keeps a model alive) and per tuple of layers and step kind.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from cvd_explorer.explain import _tf_grad
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.view import Head, find_head, is_graph_model, run_view
from cvd_explorer.models import conv_layers, iter_layers

ModelRef = Callable[[], Any]
"""A zero-argument function returning the model (a weak reference: None once it is gone)."""
Step = Callable[..., Any]
"""A traced step: tensors in, tensors out."""

_MAX_TRACES_PER_MODEL = 16
_CACHE: weakref.WeakKeyDictionary[Any, OrderedDict[Hashable, Step]] = weakref.WeakKeyDictionary()
_HEADS: weakref.WeakKeyDictionary[Any, Head] = weakref.WeakKeyDictionary()


def cached_step(model: Any, key: Hashable, build: Callable[[ModelRef], Step]) -> Step:
    """Return the traced step for ``(model, key)``, building it on first use.

    ``build`` receives a zero-argument function returning the model (a weak reference), so the
    step does not keep the model alive.
    """
    per_model = _CACHE.setdefault(model, OrderedDict())
    if key in per_model:
        per_model.move_to_end(key)
        return per_model[key]
    ref = weakref.ref(model)
    step = build(ref)
    per_model[key] = step
    while len(per_model) > _MAX_TRACES_PER_MODEL:
        per_model.popitem(last=False)
    return step


def head_of(model: Any) -> Head:
    """The model's :class:`~cvd_explorer.explain.view.Head` (inspected once per model)."""
    if model not in _HEADS:
        _HEADS[model] = find_head(model)
    return _HEADS[model]


def check_model(model: Any) -> None:
    """Raise ExplainError unless ``model`` is a functional or Sequential Keras model."""
    if not isinstance(model, keras.Model) or not is_graph_model(model):
        raise ExplainError(
            f"expected a functional or Sequential keras.Model, got {type(model).__name__}; "
            "subclassed models cannot be opened layer by layer"
        )


def check_images(model: Any, images: Any) -> np.ndarray:
    """Validate ``images`` against the model's input and return them as float32 ``(N, H, W, C)``."""
    arr = np.asarray(images)
    try:
        expected: tuple[int | None, ...] | None = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        expected = None
    shown = "(N, " + ", ".join("?" if d is None else str(d) for d in expected) + ")" if expected else "(N, H, W, 3)"
    if arr.ndim != 4:
        hint = " (add a batch axis: images[None])" if arr.ndim == 3 else ""
        raise ExplainError(f"images must have shape {shown}, got {arr.shape}{hint}")
    if expected and any(e is not None and e != a for e, a in zip(expected, arr.shape[1:], strict=False)):
        raise ExplainError(f"images have shape {arr.shape} but model {model.name!r} expects {shown}")
    if arr.shape[0] == 0:
        raise ExplainError("images is an empty batch")
    return arr.astype(np.float32, copy=False)


def resolve_layers(model: Any, layers: Sequence[str] | str | None) -> tuple[str, ...]:
    """Validate layer names: None means every conv layer; each name must give a (N, h, w, C) map."""
    convs = conv_layers(model)
    if layers is None:
        if not convs:
            raise ExplainError(f"model {model.name!r} has no Conv2D layer; pass layer names explicitly")
        return tuple(convs)
    if isinstance(layers, str):
        layers = [layers]
    by_name = {layer.name: layer for layer in iter_layers(model)}
    by_name.update({layer.name: layer for layer in _nested_models(model)})
    names: list[str] = []
    for name in layers:
        if name not in by_name:
            choices = ", ".join(convs[:3] + (["...", *convs[-2:]] if len(convs) > 5 else convs[3:]))
            raise ExplainError(
                f"model {model.name!r} has no layer named {name!r}; valid choices are its {len(convs)} conv layers "
                f"({choices}), block outputs or other layers with (N, h, w, C) outputs"
            )
        shape = _output_shape(by_name[name])
        if shape is not None and len(shape) != 4:
            raise ExplainError(
                f"layer {name!r} ({type(by_name[name]).__name__}) outputs shape {tuple(shape)}, not a (N, h, w, C) "
                f"feature map; choose a conv layer (e.g. {convs[-1] if convs else 'a Conv2D layer'}) or a block output"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def _nested_models(model: Any) -> Iterator[Any]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield layer
            yield from _nested_models(layer)


def _output_shape(layer: Any) -> tuple[int | None, ...] | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def feature_maps(
    model: Any, images: Any, layers: Sequence[str] | str, batch_size: int = 16
) -> dict[str, np.ndarray]:
    """Activations of the named layers, all from one forward pass per batch.

    Args:
        model: functional or Sequential Keras model (nested models are looked into).
        images: ``(N, H, W, 3)`` images, preprocessed as the model expects (0-255 RGB for the
            project's models); cast to float32.
        layers: layer names (conv layers, block outputs, any layer with a 4-D output).
        batch_size: images per forward pass.

    Returns:
        ``{layer: (N, h, w, C) float32}`` in the order asked.
    """
    check_model(model)
    x = check_images(model, images)
    names = resolve_layers(model, layers)
    step = cached_step(model, ("features", names), lambda ref: _tf_grad.trace(_features_fn(ref, names)))
    chunks = [step(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return {name: np.concatenate([np.asarray(c[k]) for c in chunks]) for k, name in enumerate(names)}


def _features_fn(ref: ModelRef, names: tuple[str, ...]) -> Step:
    wanted = frozenset(names)

    def fn(x: Any) -> list[Any]:
        record, _, _ = run_view(ref(), x, wanted, None)
        return [ops.cast(record[name], "float32") for name in names]

    return fn


def _logits_builder(head: Head) -> Callable[[ModelRef], Step]:
    def build(ref: ModelRef) -> Step:
        def step(x: Any) -> Any:
            _, logits, _ = run_view(ref(), x, frozenset(), head)
            return logits

        return _tf_grad.trace(step)

    return build


def batched_logits(model: Any, x: np.ndarray, head: Head, batch_size: int) -> np.ndarray:
    """The head's logits ``(N, K)`` float32 of checked images ``x``, ``batch_size`` at a time (one traced step)."""
    step = cached_step(model, ("logits",), _logits_builder(head))
    return np.concatenate([np.asarray(step(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])
