"""compute_cams and explain_all: every requested layer from one forward and one backward pass.

For the gradient methods a traced step (cached per model, layer tuple, method and target kind)
runs the view of :mod:`cvd_explorer.explain.view` once, takes the gradients of the summed
per-image target scores with respect to every requested activation in one
``GradientTape.gradient`` call and combines them per layer with the method (``keras.ops``), so
only the raw maps at each layer's resolution leave the graph; :mod:`cvd_explorer.explain.maps`
then resizes and normalises them in numpy. Eigen-CAM needs the forward pass only; Score-CAM is
one layer at a time with batched masked forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from cvd_explorer.explain import _tf_grad
from cvd_explorer.explain.activations import cached_step, check_images, check_model, head_of, resolve_layers
from cvd_explorer.explain.cam import CAMMethod, get_method
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import finish_maps, resize_maps
from cvd_explorer.explain.targets import Target, class_weights, resolve_target, scores
from cvd_explorer.explain.view import run_view

TargetLike = str | int | Callable


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


def _grad_step_builder(names, head, method: CAMMethod, target: Target, keep_acts, jit):
    wanted = frozenset(names)

    def build(ref):
        def step(x, w):
            def forward(inp):
                record, logits, probs = run_view(ref(), inp, wanted, head)
                return [record[n] for n in names], scores(target, logits, w), (logits, probs)

            if method.family == "gradient":
                tensors, grads, (logits, probs) = _tf_grad.score_and_gradients(forward, x)
            else:
                tensors, _, (logits, probs) = forward(x)
                grads = [None] * len(tensors)
            out_cams, out_w, out_a = {}, {}, {}
            for name, a, g in zip(names, tensors, grads):
                a = ops.cast(a, "float32")
                g = None if g is None else ops.cast(g, "float32")
                cam, cw = method.combine(a, g)
                out_cams[name] = cam
                out_w[name] = cw
                if keep_acts:
                    out_a[name] = a
            return out_cams, out_w, out_a, ops.cast(logits, "float32"), ops.cast(probs, "float32")

        return _tf_grad.trace(step, jit_compile=jit)

    return build


def _logits_builder(head):
    def build(ref):
        def step(x):
            _, logits, _ = run_view(ref(), x, frozenset(), head)
            return logits

        return _tf_grad.trace(step)

    return build


def _joined(arrays: list) -> np.ndarray:
    """The batches' arrays as one writable numpy array (np.asarray of a tensor is read-only)."""
    return np.concatenate([np.asarray(a) for a in arrays])


def _run_batched(step, x, w, batch_size):
    parts = [step(x[i : i + batch_size], w[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    cams, weights, acts = ({k: _joined([p[j][k] for p in parts]) for k in parts[0][j]} for j in range(3))
    return cams, weights, acts, _joined([p[3] for p in parts]), _joined([p[4] for p in parts])


def _prepare(model, images, layers, method, target, classes, batch_size):
    check_model(model)
    x = check_images(model, images)
    m = get_method(method)
    names = resolve_layers(model, layers)
    if int(batch_size) < 1:
        raise ExplainError(f"batch_size must be at least 1, got {batch_size}")
    head = head_of(model)
    tgt = resolve_target(target, head.units, classes)
    return x, m, names, head, tgt


def compute_cams(
    model: keras.Model,
    images,
    layers: Sequence[str] | str | None = None,
    method: str = "gradcam",
    target: TargetLike = "predicted",
    batch_size: int = 16,
    normalize: bool = True,
    size: str = "input",
    *,
    classes: Sequence[str] | None = None,
    top_k: int = 32,
    jit_compile: bool = False,
) -> dict[str, np.ndarray]:
    """Class activation maps for many layers at once.

    Args:
        model: functional or Sequential Keras model with one output (nested models are fine).
        images: float32 ``(N, H, W, 3)``, preprocessed as the model expects (0-255 RGB for the
            project's models).
        layers: layer names; None means every Conv2D layer (``models.conv_layers``). Block
            outputs and other layers with 4-D outputs are accepted.
        method: one of :data:`~cvd_explorer.explain.METHODS`. ``scorecam`` takes one layer.
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

    Returns:
        ``{layer: (N, H, W) float32}`` (or ``(N, h, w)`` with ``size="native"``).

    Raises:
        ExplainError (a ValueError): unknown method, target or layer, non-spatial layer, images
        of the wrong shape.
    """
    if size not in ("input", "native"):
        raise ExplainError(f"size must be 'input' or 'native', got {size!r}")
    x, m, names, head, tgt = _prepare(model, images, layers, method, target, classes, batch_size)
    out_hw = tuple(x.shape[1:3]) if size == "input" else None
    if m.family == "score":
        cam, _ = _score_cam(model, x, names, head, tgt, m, batch_size, top_k)
        return {names[0]: finish_maps(cam, out_hw, normalize)}
    key = ("cams", names, m.name, tgt.key, bool(jit_compile))
    step = cached_step(model, key, _grad_step_builder(names, head, m, tgt, False, bool(jit_compile)))
    w = class_weights(tgt, len(x), head.units)
    cams, _, _, _, _ = _run_batched(step, x, w, int(batch_size))
    return {name: finish_maps(cam, out_hw, normalize) for name, cam in cams.items()}


def explain_all(
    model: keras.Model,
    images,
    layers: Sequence[str] | str | None = None,
    method: str = "gradcam",
    target: TargetLike = "predicted",
    batch_size: int = 16,
    *,
    classes: Sequence[str] | None = None,
    top_k: int = 32,
) -> Explanation:
    """Activations, native-resolution CAMs, channel weights and logits in one pass, for caching.

    This is the Explorer's call: per sample it computes everything a slider may show, once.
    Arguments are those of :func:`compute_cams`. With ``method="scorecam"``, ``layers`` must
    name one layer (its masked forward passes are too costly for every layer).

    Returns:
        An :class:`Explanation`; maps are raw (use :func:`normalize_maps` to display).
    """
    x, m, names, head, tgt = _prepare(model, images, layers, method, target, classes, batch_size)
    if m.family == "score":
        from cvd_explorer.explain.activations import feature_maps

        cam, cw = _score_cam(model, x, names, head, tgt, m, batch_size, top_k)
        logits = _logits(model, x, head, batch_size)
        acts = feature_maps(model, x, names, batch_size)
        cams, weights = {names[0]: np.asarray(cam)}, {names[0]: np.asarray(cw)}
        probs = np.asarray(_probs(head, logits))
    else:
        key = ("all", names, m.name, tgt.key)
        step = cached_step(model, key, _grad_step_builder(names, head, m, tgt, True, False))
        w = class_weights(tgt, len(x), head.units)
        cams, weights, acts, logits, probs = _run_batched(step, x, w, int(batch_size))
    if head.units == 1:
        logits, probs = logits[:, 0], probs[:, 0]
    return Explanation(names, acts, cams, weights, logits, probs, m.name)


def _probs(head, logits):
    return ops.softmax(logits, axis=-1) if head.squash == "softmax" else ops.sigmoid(logits)


def _logits(model, x, head, batch_size) -> np.ndarray:
    step = cached_step(model, ("logits",), _logits_builder(head))
    return np.concatenate([np.asarray(step(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])


def _score_cam(model, x, names, head, tgt, m, batch_size, top_k):
    """Score-CAM for one layer: returns raw maps ``(N, h, w)`` and channel weights ``(N, C)``."""
    from cvd_explorer.explain.activations import feature_maps

    if len(names) != 1:
        raise ExplainError(f"scorecam explains one layer per call (got {len(names)}); pass layers=[name]")
    acts = feature_maps(model, x, names, batch_size)[names[0]]
    n, h, w, c = acts.shape
    k = max(1, min(int(top_k), c))
    H, W = x.shape[1:3]
    weights = class_weights(tgt, n, head.units)
    tgt_used = tgt
    if tgt.kind == "predicted":  # the class predicted on the unmasked image, scored on every masked copy
        weights = _predicted_weights(_logits(model, x, head, batch_size), head.units)
        tgt_used = Target("fixed")
    channel_scores = np.full((n, c), -np.inf, np.float32)
    for i in range(n):
        idx = np.argsort(-acts[i].mean(axis=(0, 1)), kind="stable")[:k]
        masks = _unit_range(resize_maps(np.moveaxis(acts[i][..., idx], -1, 0), (H, W)))  # (k, H, W)
        masked = x[i][None] * masks[..., None]
        logits = _logits(model, masked, head, batch_size)
        s = scores(tgt_used, ops.convert_to_tensor(logits), np.repeat(weights[i : i + 1], len(idx), axis=0))
        channel_scores[i, idx] = np.asarray(s)
    cam, cw = m.combine(acts, channel_scores)
    return np.asarray(cam, np.float32), np.asarray(cw, np.float32)


def _predicted_weights(logits, units):
    if units == 1:
        return np.where(logits >= 0, 1.0, -1.0).astype(np.float32)
    return np.eye(units, dtype=np.float32)[np.argmax(logits, axis=-1)]


def _unit_range(maps: np.ndarray) -> np.ndarray:
    """Each map of ``(k, H, W)`` min-max scaled to [0, 1]; a constant map becomes zeros."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)
