"""compute_cams and explain_all: every requested layer from one forward and one backward pass.

Each method's family (declared in :mod:`cvd_explorer.explain.registry`) picks the pass that
computes it, in one table (:data:`_PASSES`):

* gradient family: a traced step (cached per model, layer tuple, method and target kind) runs
  the view of :mod:`cvd_explorer.explain.view` once, takes the gradients of the summed per-image
  target scores with respect to every requested activation in one ``GradientTape.gradient``
  call and combines them per layer with the method (``keras.ops``), so only the raw maps at
  each layer's resolution leave the graph;
* activation family (Eigen-CAM): the same traced step, forward only;
* score family (Score-CAM): one layer at a time, with batched masked forward passes.

Gradient CAMs can be smoothed (``compute_cams(..., smooth=SmoothOptions(...))``): the maps of
noisy copies of every image (:mod:`cvd_explorer.explain.smooth`) are averaged, raw, before the
ReLU and normalisation. Pixel attributions (family ``pixel``) live in
:mod:`cvd_explorer.explain.attributions`.

:mod:`cvd_explorer.explain.maps` then resizes and normalises the maps in numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import keras
import numpy as np
from keras import ops

from cvd_explorer.explain import _tf_grad
from cvd_explorer.explain.activations import (
    ModelRef,
    cached_step,
    check_images,
    check_model,
    feature_maps,
    head_of,
    resolve_layers,
)
from cvd_explorer.explain.cam import ActivationCAM, CAMMethod, ChannelScoreCAM, GradientCAM, Tensor, get_method
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import finish_maps, resize_maps
from cvd_explorer.explain.registry import ACTIVATION, DEFAULT_METHOD, GRADIENT, SCORE
from cvd_explorer.explain.smooth import SmoothOptions, noisy_copies
from cvd_explorer.explain.targets import Target, class_weights, predicted_class_weights, resolve_target, scores
from cvd_explorer.explain.view import HEAD_INPUT, Head, run_view

TargetLike = str | int | Sequence[int] | np.ndarray | Callable[[Any], Any]
"""A class name, a class index, ``"predicted"``, one class index per image or ``callable(logits (N, K)) -> (N,)``."""

_M = TypeVar("_M", bound=CAMMethod)
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
class _Request:
    """One validated call of the engine."""

    model: Any
    x: np.ndarray
    names: tuple[str, ...]
    head: Head
    target: Target
    method: CAMMethod
    batch_size: int
    top_k: int
    keep_activations: bool = False
    keep_features: bool = False
    jit_compile: bool = False
    weights: np.ndarray | None = None
    """Per-image class weights ``(N, K)`` overriding the target's (a fixed-kind target), e.g. for smoothing."""


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


def _as(method: CAMMethod, kind: type[_M]) -> _M:
    if not isinstance(method, kind):
        raise ExplainError(f"method {method.name!r} is not a {kind.__name__} (its spec and class disagree)")
    return method


def _traced_step_builder(req: _Request, combine: _Combine, gradients: bool) -> Callable[[ModelRef], Callable[..., Any]]:
    names, head, target = req.names, req.head, req.target
    wanted = frozenset(names) | ({HEAD_INPUT} if req.keep_features else frozenset())
    keep_acts, keep_features = req.keep_activations, req.keep_features

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
                if keep_acts:
                    out_a[name] = a
            if keep_features:
                out_a[HEAD_INPUT] = ops.cast(features, "float32")
            return out_cams, out_w, out_a, ops.cast(logits, "float32"), ops.cast(probs, "float32")

        return _tf_grad.trace(step, jit_compile=req.jit_compile)

    return build


def _joined(arrays: Sequence[Any]) -> np.ndarray:
    """The batches' arrays as one writable numpy array (np.asarray of a tensor is read-only)."""
    return np.concatenate([np.asarray(a) for a in arrays])


def _traced_pass(req: _Request, combine: _Combine, gradients: bool) -> _Maps:
    kind = "all" if req.keep_activations else "cams"
    key = (kind, req.names, req.method.name, req.target.key, req.jit_compile, req.keep_features)
    step = cached_step(req.model, key, _traced_step_builder(req, combine, gradients))
    x, bs = req.x, req.batch_size
    w = req.weights if req.weights is not None else class_weights(req.target, len(x), req.head.units)
    parts = [step(x[i : i + bs], w[i : i + bs]) for i in range(0, len(x), bs)]
    cams, weights, acts = ({k: _joined([p[j][k] for p in parts]) for k in parts[0][j]} for j in range(3))
    features = acts.pop(HEAD_INPUT, None)
    return _Maps(cams, weights, _joined([p[3] for p in parts]), _joined([p[4] for p in parts]), acts, features)


def _backward_pass(req: _Request) -> _Maps:
    """Gradient family: one forward and one backward pass for every layer."""
    method = _as(req.method, GradientCAM)
    return _traced_pass(req, method.combine, gradients=True)


def _forward_pass(req: _Request) -> _Maps:
    """Activation family: one forward pass for every layer."""
    method = _as(req.method, ActivationCAM)
    return _traced_pass(req, lambda a, _g: method.combine(a), gradients=False)


def _masked_passes(req: _Request) -> _Maps:
    """Score family, for one layer: channel scores from masked copies of each image, then the method's weights."""
    method = _as(req.method, ChannelScoreCAM)
    model, x, head, bs, (name,) = req.model, req.x, req.head, req.batch_size, req.names
    acts = feature_maps(model, x, [name], bs)[name]
    n, _, _, c = acts.shape
    k = max(1, min(int(req.top_k), c))
    hw = (int(x.shape[1]), int(x.shape[2]))
    logits = _batched_logits(model, x, head, bs)
    tgt = req.target
    weights = class_weights(tgt, n, head.units)
    if tgt.kind == "predicted":  # the class predicted on the unmasked image, scored on every masked copy
        weights, tgt = predicted_class_weights(logits), Target("fixed")
    channel_scores = np.full((n, c), -np.inf, np.float32)
    for i in range(n):
        idx = np.argsort(-acts[i].mean(axis=(0, 1)), kind="stable")[:k]
        masks = _unit_range(resize_maps(np.moveaxis(acts[i][..., idx], -1, 0), hw))  # (k, H, W)
        masked = x[i][None] * masks[..., None]
        masked_logits = _batched_logits(model, masked, head, bs)
        s = scores(tgt, ops.convert_to_tensor(masked_logits), np.repeat(weights[i : i + 1], len(idx), axis=0))
        channel_scores[i, idx] = np.asarray(s)
    cam, cw = method.combine(acts, channel_scores)
    probs = np.asarray(_probs(head, logits), np.float32)
    activations = {name: acts} if req.keep_activations else {}
    return _Maps({name: np.asarray(cam, np.float32)}, {name: np.asarray(cw, np.float32)}, logits, probs, activations)


_PASSES: dict[str, Callable[[_Request], _Maps]] = {
    GRADIENT: _backward_pass,
    ACTIVATION: _forward_pass,
    SCORE: _masked_passes,
}
"""The one place the engine looks at a method's family: which pass computes it."""


def _run(req: _Request) -> _Maps:
    run = _PASSES.get(req.method.spec.family)
    if run is None:
        raise ExplainError(f"method {req.method.name!r} ({req.method.spec.family}) has no layer maps")
    return run(req)


def _prepare(
    model: Any,
    images: Any,
    layers: Sequence[str] | str | None,
    method: str,
    target: TargetLike,
    classes: Sequence[str] | None,
    batch_size: int,
    top_k: int,
) -> _Request:
    check_model(model)
    x = check_images(model, images)
    m = get_method(method)
    names = resolve_layers(model, layers)
    if m.spec.per_layer and len(names) != 1:
        raise ExplainError(
            f"{m.name} explains one layer per call (got {len(names)}); pass layers=[name]"
        )
    if int(batch_size) < 1:
        raise ExplainError(f"batch_size must be at least 1, got {batch_size}")
    head = head_of(model)
    tgt = resolve_target(target, head.units, classes)
    return _Request(model, x, names, head, tgt, m, int(batch_size), int(top_k))


def compute_cams(
    model: keras.Model,
    images: Any,
    layers: Sequence[str] | str | None = None,
    method: str = DEFAULT_METHOD,
    target: TargetLike = "predicted",
    batch_size: int = 16,
    normalize: bool = True,
    size: str = "input",
    *,
    classes: Sequence[str] | None = None,
    top_k: int = 32,
    jit_compile: bool = False,
    smooth: SmoothOptions | None = None,
) -> dict[str, np.ndarray]:
    """Class activation maps for many layers at once.

    Args:
        model: functional or Sequential Keras model with one output (nested models are fine).
        images: float32 ``(N, H, W, 3)``, preprocessed as the model expects (0-255 RGB for the
            project's models).
        layers: layer names; None means every Conv2D layer (``models.conv_layers``). Block
            outputs and other layers with 4-D outputs are accepted.
        method: one of :data:`~cvd_explorer.explain.METHODS`. Per-layer methods (Score-CAM, see
            ``MethodSpec.per_layer``) take one layer.
        target: ``"predicted"`` (per image), a class name (``"dog"``/``"cat"``, or names from
            ``classes``), a class index, or ``callable(logits (N, K)) -> (N,)``. A one-unit head
            scores the positive class with the logit z and the negative with -z.
        batch_size: images per pass.
        normalize: True: ReLU, then scale each map to [0, 1] (all-zero maps stay zero).
            False: raw maps (may be negative).
        size: ``"input"`` (bilinear to ``(H, W)``) or ``"native"`` (the layer's ``(h, w)``).
        classes: class names in index order; default ``("cat", "dog")``, dog positive.
        top_k: Score-CAM only: channels probed (highest mean activation).
        jit_compile: compile the traced step with XLA (off by default).
        smooth: gradient methods only: average the raw maps of ``smooth.samples`` noisy copies of
            each image (SmoothGrad applied to the CAM; noise as a share of each image's value
            range). With ``"predicted"`` every copy explains the class predicted on the clean image.

    Returns:
        ``{layer: (N, H, W) float32}`` (or ``(N, h, w)`` with ``size="native"``).

    Raises:
        ExplainError (a ValueError): unknown method, target or layer, non-spatial layer, images
        of the wrong shape, smoothing asked of a method that is not a gradient CAM.
    """
    if size not in ("input", "native"):
        raise ExplainError(f"size must be 'input' or 'native', got {size!r}")
    req = _prepare(model, images, layers, method, target, classes, batch_size, top_k)
    req = replace(req, jit_compile=bool(jit_compile))
    out_hw = (int(req.x.shape[1]), int(req.x.shape[2])) if size == "input" else None
    cams = _smoothed(req, smooth) if smooth is not None else _run(req).cams
    return {name: finish_maps(cam, out_hw, normalize) for name, cam in cams.items()}


def _smoothed(req: _Request, smooth: SmoothOptions) -> dict[str, np.ndarray]:
    """Raw maps of the gradient family averaged over noisy copies of each image (the copies run batched)."""
    if not isinstance(smooth, SmoothOptions):
        raise ExplainError(f"smooth must be a SmoothOptions(samples, noise, seed), got {type(smooth).__name__}")
    if req.method.spec.family != GRADIENT:
        raise ExplainError(f"smoothing applies to gradient CAMs; {req.method.name} ({req.method.spec.family}) has none")
    n, k = len(req.x), int(smooth.samples)
    if req.target.kind == "callable":
        weights = None
    elif req.target.kind == "predicted":
        weights = predicted_class_weights(_batched_logits(req.model, req.x, req.head, req.batch_size))
    else:
        weights = class_weights(req.target, n, req.head.units)
    target = req.target if weights is None else Target("fixed")
    copies = replace(req, x=noisy_copies(req.x, smooth), target=target,
                     weights=None if weights is None else np.repeat(weights, k, axis=0))
    cams = _run(copies).cams
    return {name: cam.reshape(n, k, *cam.shape[1:]).mean(axis=1) for name, cam in cams.items()}


def explain_all(
    model: keras.Model,
    images: Any,
    layers: Sequence[str] | str | None = None,
    method: str = DEFAULT_METHOD,
    target: TargetLike = "predicted",
    batch_size: int = 16,
    *,
    classes: Sequence[str] | None = None,
    top_k: int = 32,
) -> Explanation:
    """Activations, native-resolution CAMs, channel weights and logits in one pass, for caching.

    This is the Explorer's call: per sample it computes everything a slider may show, once.
    Arguments are those of :func:`compute_cams`. For a per-layer method (Score-CAM), ``layers``
    must name one layer (its masked forward passes are too costly for every layer).

    Returns:
        An :class:`Explanation`; maps are raw (use :func:`normalize_maps` to display).
    """
    req = replace(_prepare(model, images, layers, method, target, classes, batch_size, top_k), keep_activations=True)
    maps = _run(req)
    logits, probs = maps.logits, maps.probs
    if req.head.units == 1:
        logits, probs = logits[:, 0], probs[:, 0]
    return Explanation(req.names, maps.activations, maps.cams, maps.weights, logits, probs, req.method.name)


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


def explain_batch(
    model: keras.Model,
    images: Any,
    layers: Sequence[str] | str | None = None,
    method: str = DEFAULT_METHOD,
    target: TargetLike = "predicted",
    *,
    classes: Sequence[str] | None = None,
) -> BatchExplanation:
    """Raw maps of every requested layer, the logits and the pooled features, from one pass of the batch.

    The atlas' call: like :func:`compute_cams` with ``normalize=False, size="native"``, plus what
    the head saw. Per-layer methods (Score-CAM) are refused: a split-wide pass needs every layer at once.

    Raises:
        ExplainError: a per-layer method, or one with no layer maps; the checks of :func:`compute_cams`.
    """
    req = _prepare(model, images, layers, method, target, classes, len(np.asarray(images)) or 1, 32)
    if req.method.spec.per_layer:
        raise ExplainError(f"{req.method.name} is computed one layer at a time; choose a method that maps every layer")
    maps = _run(replace(req, keep_features=True))
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
    if int(batch_size) < 1:
        raise ExplainError(f"batch_size must be at least 1, got {batch_size}")
    return _batched_logits(model, x, head_of(model), int(batch_size))


def _probs(head: Head, logits: np.ndarray) -> Any:
    return ops.softmax(logits, axis=-1) if head.squash == "softmax" else ops.sigmoid(logits)


def _logits_builder(head: Head) -> Callable[[ModelRef], Callable[..., Any]]:
    def build(ref: ModelRef) -> Callable[..., Any]:
        def step(x: Tensor) -> Tensor:
            _, logits, _ = run_view(ref(), x, frozenset(), head)
            return logits

        return _tf_grad.trace(step)

    return build


def _batched_logits(model: Any, x: np.ndarray, head: Head, batch_size: int) -> np.ndarray:
    step = cached_step(model, ("logits",), _logits_builder(head))
    return np.concatenate([np.asarray(step(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])


def _unit_range(maps: np.ndarray) -> np.ndarray:
    """Each map of ``(k, H, W)`` min-max scaled to [0, 1]; a constant map becomes zeros."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)
