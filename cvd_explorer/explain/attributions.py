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

from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import normalize_maps_in_place
from cvd_explorer.explain.options import build
from cvd_explorer.explain.pixel import IntegratedGradientsOptions, PixelContext, PixelMethod, relative_gap
from cvd_explorer.explain.request import ExplainRequest, TargetLike, explain_request

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


def _pixel_request(model: Any, images: Any, method: str, target: TargetLike, settings: dict[str, Any],
                   ) -> ExplainRequest:
    req = explain_request(model, images, None, method, target, **settings)
    _pixel_method(req)
    return req


def _pixel_method(req: ExplainRequest) -> PixelMethod:
    if not isinstance(req.method, PixelMethod):
        raise ExplainError(f"method {req.method.name!r} ({req.method.spec.label}) is a layer CAM, not a pixel "
                           "attribution; use compute_cams")
    return req.method


def _signed(req: ExplainRequest) -> tuple[PixelContext, np.ndarray]:
    ctx = PixelContext.of(req)
    return ctx, np.asarray(_pixel_method(req).signed(ctx), np.float32)


def explain_pixels(model: keras.Model, images: Any, method: str, target: TargetLike = "predicted",
                   **settings: Any) -> PixelExplanation:
    """Signed attributions, normalised maps, the logits and (integrated gradients) the completeness gap.

    Arguments are those of :func:`attribute`; this is the Explorer's and the CLI's call.
    """
    req = _pixel_request(model, images, method, target, settings)
    logits = req.logits()
    ctx, signed = _signed(req.resolved(logits))
    pixel = _pixel_method(req)
    gap = pixel.completeness(ctx, signed)
    z = logits[:, 0] if logits.shape[1] == 1 else logits
    return PixelExplanation(pixel.name, req.options.as_dict(), signed, reduce_max_abs(signed), z, gap)


def attribute(model: keras.Model, images: Any, method: str, target: TargetLike = "predicted", *,
              reduce: str | None = "max-abs", **settings: Any) -> np.ndarray:
    """Pixel attributions of ``images`` for ``target``.

    Args:
        model: functional or Sequential Keras model with one output (nested models are fine).
        images: ``(N, H, W, C)`` as the model takes them (0-255 RGB for the project's models).
        method: a registered pixel attribution (:data:`~cvd_explorer.explain.PIXEL_METHODS`):
            ``"saliency"``, ``"smoothgrad"``, ``"integrated-gradients"``, ``"guided-backprop"``,
            ``"guided-gradcam"`` or one added with :func:`~cvd_explorer.explain.register`.
        target: as for :func:`~cvd_explorer.explain.compute_cams`.
        reduce: ``"max-abs"``: maps ``(N, H, W)`` float32 in [0, 1] (max of absolute values over
            the channels, each map divided by its peak; all-zero stays zero). None: the signed
            ``(N, H, W, C)`` float32 attributions: the raw gradient (saliency, guided backprop),
            the mean gradient of the noisy copies (smoothgrad), ``(x - x0)`` times the
            path-averaged gradient (integrated gradients), guided backprop times the [0, 1]
            Grad-CAM (guided Grad-CAM).
        **settings: ``classes=`` (class names in index order, default ``("cat", "dog")``) and the
            method's typed options (``method_spec(method).options_type``): every method
            ``batch_size=32`` (images, noisy copies or path points per pass); smoothgrad
            ``samples=25, noise=0.15, seed=0`` (noise as a share of each image's value range
            max - min); integrated-gradients ``steps=64, baseline="black" | "blur" | "noise" |
            array, seed=0, blur_sigma=5.0`` (midpoint rule); guided-gradcam ``layer=`` (default
            the deepest Conv2D layer).

    Raises:
        ExplainError (a ValueError): unknown method, option, option value, target or reduction;
        images of the wrong shape.
    """
    if reduce not in REDUCTIONS:
        raise ExplainError(f"reduce must be 'max-abs' or None, got {reduce!r}")
    _, signed = _signed(_pixel_request(model, images, method, target, settings))
    return signed if reduce is None else reduce_max_abs(signed)


def completeness_gap(
    model: keras.Model, images: Any, attributions: Any, baseline: Any = "black", target: TargetLike = "predicted", *,
    classes: Sequence[str] | None = None, **options: Any,
) -> np.ndarray:
    """How far integrated gradients are from completeness, per image.

    ``|sum(attributions_i) - (score(x_i) - score(x0_i))| / |score(x_i) - score(x0_i)|``, the score
    being the target's logit (dog z, cat -z; ``"predicted"``: the class predicted on ``x_i``).
    Large gaps mean the path integral needs more steps.

    Args:
        attributions: signed ``(N, H, W, C)`` from ``attribute(..., "integrated-gradients", reduce=None)``.
        baseline: the baseline the attributions were computed from; ``options``: the other
            integrated-gradients options they used (``seed``, ``blur_sigma``; ``batch_size``).

    Returns:
        ``(N,)`` float64 relative gaps (0.01 = 1 %).
    """
    ig = build(IntegratedGradientsOptions, "completeness_gap", {"baseline": baseline, **options})
    req = _pixel_request(model, images, "integrated-gradients", target, {"classes": classes, **ig.as_dict()})
    ctx = PixelContext.of(req)
    a = np.asarray(attributions, np.float32)
    if a.shape != ctx.x.shape:
        raise ExplainError(f"attributions must have the images' shape {ctx.x.shape} (reduce=None), got {a.shape}")
    return relative_gap(a, ctx.scores(ctx.x, ctx.weights), ctx.scores(ig.baseline_of(ctx.x), ctx.weights))
