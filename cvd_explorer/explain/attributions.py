"""Pixel attributions: ``attribute(model, images, method, target="predicted", **options)``.

Methods (family ``pixel`` in :mod:`cvd_explorer.explain.registry`, classes in
:mod:`cvd_explorer.explain.pixel`): ``saliency``, ``smoothgrad`` (``samples``, ``noise``,
``seed``), ``integrated-gradients`` (``steps``, ``baseline``, ``seed``, ``blur_sigma``),
``guided-backprop`` and ``guided-gradcam`` (``layer``). Images go to the model unchanged, in
whatever range it takes; integrated gradients' ``black`` baseline is zeros in that space.

The target rules are the CAMs': ``"predicted"`` (the class predicted on the clean image, kept
for every noisy copy and path point), a class name, a class index, one index per image, or a
callable on the logits; a one-unit head scores dog with ``z`` and cat with ``-z``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from cvd_explorer.explain.activations import check_images, check_model, head_of
from cvd_explorer.explain.engine import TargetLike, predict_logits
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import normalize_maps_in_place
from cvd_explorer.explain.pixel import PixelContext, baseline_images, get_pixel_method, relative_gap
from cvd_explorer.explain.targets import Target, class_weights, predicted_class_weights, resolve_target

REDUCTIONS = ("max-abs", None)
"""``reduce=``: ``"max-abs"`` (the maximum absolute value over colour channels, normalised) or None (signed)."""


@dataclass
class PixelExplanation:
    """A pixel attribution of a batch, with what the Explorer and the CLI show beside it.

    Attributes:
        method: the method's name; options: its options, defaults filled in.
        attributions: signed float32 ``(N, H, W, C)``.
        maps: float32 ``(N, H, W)`` in [0, 1]: max-abs over channels, each map scaled by its peak.
        logits: ``(N,)`` float32 z for a one-unit head, else ``(N, K)``.
        completeness_gap: ``(N,)`` relative gap of integrated gradients (see :func:`completeness_gap`), else None.
    """

    method: str
    options: dict[str, Any]
    attributions: np.ndarray
    maps: np.ndarray
    logits: np.ndarray
    completeness_gap: np.ndarray | None = None


def reduce_max_abs(attributions: np.ndarray) -> np.ndarray:
    """``max_c |a|`` of ``(N, H, W, C)`` attributions, each map scaled to [0, 1] by its peak: float32 ``(N, H, W)``."""
    return normalize_maps_in_place(np.abs(np.asarray(attributions, np.float32)).max(axis=-1))


def _context(
    model: Any, images: Any, target: TargetLike, batch_size: int, classes: Sequence[str] | None
) -> tuple[PixelContext, np.ndarray]:
    check_model(model)
    x = check_images(model, images)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ExplainError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    head = head_of(model)
    tgt = resolve_target(target, head.units, classes)
    logits = predict_logits(model, x, int(batch_size))
    if tgt.kind == "callable":
        weights, kind = np.zeros((len(x), head.units), np.float32), tgt
    else:
        weights = predicted_class_weights(logits) if tgt.kind == "predicted" else class_weights(tgt, len(x), head.units)
        kind = Target("fixed")
    names = tuple(classes) if classes is not None else None
    return PixelContext(model, x, head, kind, weights, int(batch_size), names), logits


def explain_pixels(
    model: keras.Model,
    images: Any,
    method: str,
    target: TargetLike = "predicted",
    *,
    batch_size: int = 32,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> PixelExplanation:
    """Signed attributions, normalised maps, the logits and (integrated gradients) the completeness gap.

    Arguments are those of :func:`attribute`; this is the Explorer's and the CLI's call.
    """
    m = get_pixel_method(method, options)
    ctx, logits = _context(model, images, target, batch_size, classes)
    signed = np.asarray(m.signed(ctx), np.float32)
    gap = m.completeness(ctx, signed)
    z = logits[:, 0] if logits.shape[1] == 1 else logits
    return PixelExplanation(m.name, dict(m.options), signed, reduce_max_abs(signed), z, gap)


def attribute(
    model: keras.Model,
    images: Any,
    method: str,
    target: TargetLike = "predicted",
    *,
    reduce: str | None = "max-abs",
    batch_size: int = 32,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> np.ndarray:
    """Pixel attributions of ``images`` for ``target``.

    Args:
        model: functional or Sequential Keras model with one output (nested models are fine).
        images: ``(N, H, W, C)`` as the model takes them (0-255 RGB for the project's models).
        method: ``"saliency"``, ``"smoothgrad"``, ``"integrated-gradients"``,
            ``"guided-backprop"`` or ``"guided-gradcam"``.
        target: as for :func:`~cvd_explorer.explain.compute_cams`.
        reduce: ``"max-abs"``: maps ``(N, H, W)`` float32 in [0, 1] (max of absolute values over
            the channels, each map divided by its peak; all-zero stays zero). None: the signed
            ``(N, H, W, C)`` float32 attributions: the raw gradient (saliency, guided backprop),
            the mean gradient of the noisy copies (smoothgrad), ``(x - x0)`` times the
            path-averaged gradient (integrated gradients), guided backprop times the [0, 1]
            Grad-CAM (guided Grad-CAM).
        batch_size: images, noisy copies or path points per pass.
        classes: class names in index order (default ``("cat", "dog")``).
        **options: the method's options: smoothgrad ``samples=25, noise=0.15, seed=0`` (noise as
            a share of each image's value range max - min); integrated-gradients ``steps=64,
            baseline="black" | "blur" | "noise" | array, seed=0, blur_sigma=5.0`` (midpoint
            rule); guided-gradcam ``layer=`` (default the deepest Conv2D layer).

    Raises:
        ExplainError (a ValueError): unknown method, option, option value, target or reduction;
        images of the wrong shape.
    """
    if reduce not in REDUCTIONS:
        raise ExplainError(f"reduce must be 'max-abs' or None, got {reduce!r}")
    m = get_pixel_method(method, options)
    ctx, _ = _context(model, images, target, batch_size, classes)
    signed = np.asarray(m.signed(ctx), np.float32)
    return signed if reduce is None else reduce_max_abs(signed)


def completeness_gap(
    model: keras.Model,
    images: Any,
    attributions: Any,
    baseline: Any = "black",
    target: TargetLike = "predicted",
    *,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    blur_sigma: float = 5.0,
    batch_size: int = 32,
) -> np.ndarray:
    """How far integrated gradients are from completeness, per image.

    ``|sum(attributions_i) - (score(x_i) - score(x0_i))| / |score(x_i) - score(x0_i)|``, the score
    being the target's logit (dog z, cat -z; ``"predicted"``: the class predicted on ``x_i``).
    Large gaps mean the path integral needs more steps.

    Args:
        attributions: signed ``(N, H, W, C)`` from ``attribute(..., "integrated-gradients", reduce=None)``.
        baseline, seed, blur_sigma: the baseline the attributions were computed from (as in
            :func:`attribute`).

    Returns:
        ``(N,)`` float64 relative gaps (0.01 = 1 %).
    """
    ctx, _ = _context(model, images, target, batch_size, classes)
    a = np.asarray(attributions, np.float32)
    if a.shape != ctx.x.shape:
        raise ExplainError(f"attributions must have the images' shape {ctx.x.shape} (reduce=None), got {a.shape}")
    x0 = baseline_images(ctx.x, baseline, seed, blur_sigma)
    return relative_gap(a, ctx.scores(ctx.x, ctx.weights), ctx.scores(x0, ctx.weights))
