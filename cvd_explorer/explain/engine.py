"""compute_cams and explain_all: every requested layer from one forward and one backward pass.

Each method's family (its class's base, :mod:`cvd_explorer.explain.base`) picks the pass that
computes it, in one table (:data:`_PASSES`):

* gradient family: a traced step (cached per model, layer tuple, method class, options and target kind) runs
  the view of :mod:`cvd_explorer.explain.view` once, takes the gradients of the summed per-image
  target scores with respect to every requested activation in one ``GradientTape.gradient``
  call and combines them per layer with the method (``keras.ops``), so only the raw maps at
  each layer's resolution leave the graph;
* activation family (Eigen-CAM): the same traced step, forward only;
* score family (Score-CAM): one layer at a time, with batched masked forward passes.

Gradient CAMs can be smoothed (``compute_cams(..., smooth=SmoothOptions(...))``): the maps of
noisy copies of every image (:mod:`cvd_explorer.explain.smooth`) are averaged, raw, before the
ReLU and normalisation. Every entry point builds one :class:`~cvd_explorer.explain.request.ExplainRequest`
(:func:`~cvd_explorer.explain.request.explain_request`). Pixel attributions (family ``pixel``) live in
:mod:`cvd_explorer.explain.attributions`.

:mod:`cvd_explorer.explain.maps` then resizes and normalises the maps in numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import keras
import numpy as np
from keras import ops

from cvd_explorer.explain import _tf_grad
from cvd_explorer.explain.activations import (
    ModelRef,
    batched_logits,
    cached_step,
    check_images,
    check_model,
    feature_maps,
    head_of,
)
from cvd_explorer.explain.base import ACTIVATION, GRADIENT, SCORE, Method, MethodOptions
from cvd_explorer.explain.cam import (
    ActivationCAM,
    CAMOptions,
    ChannelScoreCAM,
    GradientCAM,
    ScoreCAMOptions,
    Tensor,
)
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import finish_maps, resize_maps
from cvd_explorer.explain.registry import DEFAULT_METHOD
from cvd_explorer.explain.request import ExplainRequest, TargetLike, explain_request
from cvd_explorer.explain.smooth import SmoothOptions, noisy_copies
from cvd_explorer.explain.targets import scores
from cvd_explorer.explain.view import HEAD_INPUT, Head, run_view

__all__ = ["BatchExplanation", "Explanation", "TargetLike", "compute_cams", "explain_all", "explain_batch",
           "maps_of", "predict_logits"]

_M = TypeVar("_M", bound=Method)
_O = TypeVar("_O", bound=MethodOptions)
_Combine = Callable[[Tensor, Tensor | None], tuple[Tensor, Tensor]]


@dataclass
class Explanation:
    """Everything the Explorer needs for a batch of images, computed once.

    Attributes:
        layers: layer names in depth order.
        activations: ``{layer: (N, h, w, C) float32}``.
        cams: ``{layer: (N, h, w) float32}`` at the layer's native resolution, raw (not ReLU'd
            or normalised; apply :func:`normalize_maps` or let the renderer do it).
        channel_weights: ``{layer: (N, C) float32}``: the method's per-channel weights (for
            Grad-CAM the pooled gradients; for HiResCAM / Layer-CAM the spatial mean of the
            element-wise weights; for Eigen-CAM the principal direction), for
            ``render.feature_grid(order="cam-weight")``.
        logits: ``(N,)`` float32 for a one-unit head (z), else ``(N, K)``.
        probs: ``(N,)`` float32 P(positive class) for a one-unit head, else ``(N, K)``.
        method: the CAM method used.
    """

    layers: tuple[str, ...]
    activations: dict[str, np.ndarray]
    cams: dict[str, np.ndarray]
    channel_weights: dict[str, np.ndarray]
    logits: np.ndarray
    probs: np.ndarray
    method: str


@dataclass(frozen=True)
class _Keep:
    """What a pass keeps beside the maps: the activations (the Explorer), the head's input (the atlas)."""

    activations: bool = False
    features: bool = False


@dataclass
class _Maps:
    """What a pass returns: raw maps and channel weights per layer, activations if kept, logits and probabilities
    ``(N, K)`` float32."""

    cams: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    logits: np.ndarray
    probs: np.ndarray
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    features: np.ndarray | None = None


def _as(method: Method, kind: type[_M]) -> _M:
    if not isinstance(method, kind):
        raise ExplainError(f"method {method.name!r} is not a {kind.__name__}")
    return method


def _options(req: ExplainRequest, kind: type[_O]) -> _O:
    if not isinstance(req.options, kind):
        raise ExplainError(f"method {req.method.name!r}: its options are not {kind.__name__}")
    return req.options


def _trace_key(options: MethodOptions) -> Hashable:
    """The options that change a traced step (not the batch size or the smoothing, which change its inputs)."""
    items = tuple((k, v) for k, v in options.as_dict().items() if k not in ("batch_size", "smooth"))
    try:
        hash(items)
    except TypeError:  # a user's unhashable option: one trace per options object
        return id(options)
    return items


def _traced_step_builder(
    req: ExplainRequest, keep: _Keep, combine: _Combine, gradients: bool, jit_compile: bool
) -> Callable[[ModelRef], Callable[..., Any]]:
    names, head, target = req.layers, req.head, req.target
    wanted = frozenset(names) | ({HEAD_INPUT} if keep.features else frozenset())

    def build(ref: ModelRef) -> Callable[..., Any]:
        def step(x: Tensor, w: Tensor) -> tuple[Any, ...]:
            def forward(inp: Tensor) -> tuple[list[Tensor], Tensor, tuple[Tensor, Tensor, Tensor | None]]:
                record, logits, probs = run_view(ref(), inp, wanted, head)
                return [record[n] for n in names], scores(target, logits, w), (logits, probs, record.get(HEAD_INPUT))

            grads: Sequence[Tensor | None]
            if gradients:
                tensors, grads, (logits, probs, features) = _tf_grad.score_and_gradients(forward, x)
            else:
                tensors, _, (logits, probs, features) = forward(x)
                grads = [None] * len(tensors)
            out_cams, out_w, out_a = {}, {}, {}
            for name, a, g in zip(names, tensors, grads, strict=True):
                a = ops.cast(a, "float32")
                cam, cw = combine(a, None if g is None else ops.cast(g, "float32"))
                out_cams[name] = cam
                out_w[name] = cw
                if keep.activations:
                    out_a[name] = a
            if keep.features:
                out_a[HEAD_INPUT] = ops.cast(features, "float32")
            return out_cams, out_w, out_a, ops.cast(logits, "float32"), ops.cast(probs, "float32")

        return _tf_grad.trace(step, jit_compile=jit_compile)

    return build


def _joined(arrays: Sequence[Any]) -> np.ndarray:
    """The batches' arrays as one writable numpy array (np.asarray of a tensor is read-only)."""
    return np.concatenate([np.asarray(a) for a in arrays])


def _traced_pass(req: ExplainRequest, keep: _Keep, combine: _Combine, gradients: bool) -> _Maps:
    jit = _options(req, CAMOptions).jit_compile
    key = ("all" if keep.activations else "cams", req.layers, type(req.method), _trace_key(req.options),
           req.target.key, keep.features)
    step = cached_step(req.model, key, _traced_step_builder(req, keep, combine, gradients, jit))
    x, bs, w = req.x, req.batch_size, req.weights()
    parts = [step(x[i : i + bs], w[i : i + bs]) for i in range(0, len(x), bs)]
    cams, weights, acts = ({k: _joined([p[j][k] for p in parts]) for k in parts[0][j]} for j in range(3))
    features = acts.pop(HEAD_INPUT, None)
    return _Maps(cams, weights, _joined([p[3] for p in parts]), _joined([p[4] for p in parts]), acts, features)


def _backward_pass(req: ExplainRequest, keep: _Keep) -> _Maps:
    """Gradient family: one forward and one backward pass for every layer."""
    method = _as(req.method, GradientCAM)
    return _traced_pass(req, keep, method.combine, gradients=True)


def _forward_pass(req: ExplainRequest, keep: _Keep) -> _Maps:
    """Activation family: one forward pass for every layer."""
    method = _as(req.method, ActivationCAM)
    return _traced_pass(req, keep, lambda a, _g: method.combine(a), gradients=False)


def _masked_passes(req: ExplainRequest, keep: _Keep) -> _Maps:
    """Score family, for one layer: channel scores from masked copies of each image, then the method's weights."""
    method = _as(req.method, ChannelScoreCAM)
    model, x, head, bs, (name,) = req.model, req.x, req.head, req.batch_size, req.layers
    acts = feature_maps(model, x, [name], bs)[name]
    n, _, _, c = acts.shape
    k = max(1, min(_options(req, ScoreCAMOptions).top_k, c))
    hw = (int(x.shape[1]), int(x.shape[2]))
    logits = req.logits()
    req = req.resolved(logits)  # the class predicted on the unmasked image, scored on every masked copy
    weights = req.weights()
    channel_scores = np.full((n, c), -np.inf, np.float32)
    for i in range(n):
        idx = np.argsort(-acts[i].mean(axis=(0, 1)), kind="stable")[:k]
        masks = _unit_range(resize_maps(np.moveaxis(acts[i][..., idx], -1, 0), hw))  # (k, H, W)
        masked = x[i][None] * masks[..., None]
        masked_logits = batched_logits(model, masked, head, bs)
        s = scores(req.target, ops.convert_to_tensor(masked_logits), np.repeat(weights[i : i + 1], len(idx), axis=0))
        channel_scores[i, idx] = np.asarray(s)
    cam, cw = method.combine(acts, channel_scores)
    probs = np.asarray(_probs(head, logits), np.float32)
    activations = {name: acts} if keep.activations else {}
    return _Maps({name: np.asarray(cam, np.float32)}, {name: np.asarray(cw, np.float32)}, logits, probs, activations)


_PASSES: dict[str, Callable[[ExplainRequest, _Keep], _Maps]] = {
    GRADIENT: _backward_pass,
    ACTIVATION: _forward_pass,
    SCORE: _masked_passes,
}
"""The one place the engine looks at a method's family: which pass computes it."""


def _run(req: ExplainRequest, keep: _Keep = _Keep()) -> _Maps:
    run = _PASSES.get(req.method.family)
    if run is None:
        name = req.method.name
        raise ExplainError(f"method {name!r} ({req.method.spec.label}) is a pixel attribution with no maps per layer; "
                           f"use cvd_explorer.explain.attribute(model, images, {name!r})")
    smooth = getattr(req.options, "smooth", None)
    if smooth is None:
        return run(req, keep)
    if keep != _Keep():
        raise ExplainError(f"{req.method.name}: smoothing applies to compute_cams (maps only), not to explain_all "
                           "or explain_batch")
    return _smoothed(req, smooth)


def _smoothed(req: ExplainRequest, smooth: SmoothOptions) -> _Maps:
    """Raw maps of the gradient family averaged over noisy copies of each image (the copies run batched);
    "predicted" is the class predicted on the clean image, for every copy."""
    n, k = len(req.x), int(smooth.samples)
    req = req.resolved()
    maps = _backward_pass(replace(req, x=noisy_copies(req.x, smooth), target=req.target.repeated(k)), _Keep())

    def mean(a: np.ndarray) -> np.ndarray:
        out: np.ndarray = a.reshape(n, k, *a.shape[1:]).mean(axis=1)
        return out

    return _Maps({name: mean(c) for name, c in maps.cams.items()}, {name: mean(w) for name, w in maps.weights.items()},
                 mean(maps.logits), mean(maps.probs))


def maps_of(req: ExplainRequest, normalize: bool = True, size: str = "input") -> dict[str, np.ndarray]:
    """The maps of a built request (see :func:`compute_cams`, whose work this is)."""
    if size not in ("input", "native"):
        raise ExplainError(f"size must be 'input' or 'native', got {size!r}")
    out_hw = (int(req.x.shape[1]), int(req.x.shape[2])) if size == "input" else None
    return {name: finish_maps(cam, out_hw, normalize) for name, cam in _run(req).cams.items()}


def compute_cams(
    model: keras.Model, images: Any, layers: Sequence[str] | str | None = None, method: str = DEFAULT_METHOD,
    target: TargetLike = "predicted", *, normalize: bool = True, size: str = "input",
    classes: Sequence[str] | None = None, **options: Any,
) -> dict[str, np.ndarray]:
    """Class activation maps for many layers at once.

    Args:
        model: functional or Sequential Keras model with one output (nested models are fine).
        images: float32 ``(N, H, W, 3)``, preprocessed as the model expects (0-255 RGB for the
            project's models).
        layers: layer names; None means every Conv2D layer (``models.conv_layers``). Block
            outputs and other layers with 4-D outputs are accepted.
        method: a registered CAM (:data:`~cvd_explorer.explain.CAM_METHODS`). Per-layer methods
            (Score-CAM) take one layer.
        target: ``"predicted"`` (per image), a class name (``"dog"``/``"cat"``, or names from
            ``classes``), a class index, one index per image, or ``callable(logits (N, K)) -> (N,)``.
            A one-unit head scores the positive class with the logit z and the negative with -z.
        normalize: True: ReLU, then scale each map to [0, 1] (all-zero maps stay zero).
            False: raw maps (may be negative).
        size: ``"input"`` (bilinear to ``(H, W)``) or ``"native"`` (the layer's ``(h, w)``).
        classes: class names in index order; default ``("cat", "dog")``, dog positive.
        **options: the method's typed options (``method_spec(method).options_type``):
            ``batch_size`` (images per pass, 16) for every CAM; ``jit_compile`` (XLA, off) for the
            gradient and activation families; ``smooth`` for the gradient CAMs (a
            :class:`SmoothOptions`: average the raw maps of ``smooth.samples`` noisy copies of each
            image, noise as a share of each image's value range; with ``"predicted"`` every copy
            explains the class predicted on the clean image); ``top_k`` (32) for Score-CAM:
            channels probed (highest mean activation).

    Returns:
        ``{layer: (N, H, W) float32}`` (or ``(N, h, w)`` with ``size="native"``).

    Raises:
        ExplainError (a ValueError): unknown method, option, target or layer, non-spatial layer,
        images of the wrong shape.
    """
    return maps_of(explain_request(model, images, layers, method, target, classes=classes, **options), normalize, size)


def explain_all(
    model: keras.Model, images: Any, layers: Sequence[str] | str | None = None, method: str = DEFAULT_METHOD,
    target: TargetLike = "predicted", **settings: Any,
) -> Explanation:
    """Activations, native-resolution CAMs, channel weights and logits in one pass, for caching.

    This is the Explorer's call: per sample it computes everything a slider may show, once.
    Arguments (``classes=`` and the method's options among ``settings``) are those of
    :func:`compute_cams`. For a per-layer method (Score-CAM), ``layers`` must name one layer
    (its masked forward passes are too costly for every layer).

    Returns:
        An :class:`Explanation`; maps are raw (use :func:`normalize_maps` to display).
    """
    req = explain_request(model, images, layers, method, target, **settings)
    maps = _run(req, _Keep(activations=True))
    logits, probs = maps.logits, maps.probs
    if req.head.units == 1:
        logits, probs = logits[:, 0], probs[:, 0]
    return Explanation(req.layers, maps.activations, maps.cams, maps.weights, logits, probs, req.method.name)


@dataclass
class BatchExplanation:
    """What the atlas keeps of a batch (see :func:`explain_batch`).

    Attributes:
        cams: ``{layer: (N, h, w) float32}`` raw maps at each layer's native resolution.
        logits: ``(N,)`` float32 z for a one-unit head, else ``(N, K)``.
        features: ``(N, D)`` float32: the head's input (the pooled features the classifier sees).
    """

    cams: dict[str, np.ndarray]
    logits: np.ndarray
    features: np.ndarray


def explain_batch(model: keras.Model, images: Any, layers: Sequence[str] | str | None = None,
                  method: str = DEFAULT_METHOD, **settings: Any) -> BatchExplanation:
    """Raw maps of every requested layer, the logits and the pooled features, from one pass of the batch.

    The atlas' call: like :func:`compute_cams` with ``normalize=False, size="native"``, plus what
    the head saw (``target=``, ``classes=`` and the method's options among ``settings``; the
    batch is one pass unless ``batch_size`` says otherwise). Per-layer methods (Score-CAM) are
    refused: a split-wide pass needs every layer at once.

    Raises:
        ExplainError: a per-layer method, or one with no layer maps; the checks of :func:`compute_cams`.
    """
    settings.setdefault("batch_size", len(np.asarray(images)) or 1)
    req = explain_request(model, images, layers, method, **settings)
    if req.method.per_layer:
        raise ExplainError(f"{req.method.name} is computed one layer at a time; choose a method that maps every layer")
    maps = _run(req, _Keep(features=True))
    if maps.features is None:
        raise ExplainError(f"method {req.method.name!r} does not return the head's input")
    logits = maps.logits[:, 0] if req.head.units == 1 else maps.logits
    return BatchExplanation(maps.cams, logits, maps.features.reshape(len(req.x), -1))


def predict_logits(model: keras.Model, images: Any, batch_size: int = 32) -> np.ndarray:
    """The logits of the model's head (read off by the explain view, never by changing the model).

    Args:
        model: functional or Sequential Keras model with one output.
        images: ``(N, H, W, 3)`` as the model expects.
        batch_size: images per forward pass.

    Returns:
        float32 ``(N, K)``: for a one-unit sigmoid head ``K = 1`` and the column is z (the
        positive class's logit); for a softmax head the K class logits.
    """
    check_model(model)
    x = check_images(model, images)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ExplainError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return batched_logits(model, x, head_of(model), int(batch_size))


def _probs(head: Head, logits: np.ndarray) -> Any:
    return ops.softmax(logits, axis=-1) if head.squash == "softmax" else ops.sigmoid(logits)


def _unit_range(maps: np.ndarray) -> np.ndarray:
    """Each map of ``(k, H, W)`` min-max scaled to [0, 1]; a constant map becomes zeros."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)
