"""Explain engine: feature maps and a family of CAMs across every conv layer in one pass.

Public API:
    feature_maps(model, images, layers) -> {layer: (N, h, w, C) float32}
    compute_cams(model, images, layers=None, method=DEFAULT_METHOD, target="predicted", ...) -> {layer: (N, H, W)}
    explain_all(model, images, layers=None, method=DEFAULT_METHOD, target="predicted") -> Explanation
    predict_logits(model, images) -> (N, K) float32
    attribute(model, images, method, target="predicted", reduce="max-abs", **options) -> (N, H, W) float32
        (pixel attributions; reduce=None: signed (N, H, W, 3)); explain_pixels(...) -> PixelExplanation;
        completeness_gap(model, images, attributions, baseline, target) -> (N,) relative gaps
    SmoothOptions(samples, noise, seed): smoothgrad's and compute_cams(smooth=...)'s noise
    METHODS, DEFAULT_METHOD, method_spec(name): the registered methods (live views; importable
        without TensorFlow, :mod:`cvd_explorer.explain.registry`)
    register(name, label, cls) / unregister(name): add / remove your own method; ``cls`` subclasses
        GradientCAM (override ``weights(activations, gradients) -> (N, C)``), ActivationCAM,
        ChannelScoreCAM (the Score-CAM family) or PixelMethod; its typed options are ``cls.Options``
        (a frozen dataclass: CAMOptions, GradientCAMOptions, ScoreCAMOptions, PixelOptions, ...)
    explain_request(model, images, layers, method, target, classes=, **options) -> ExplainRequest:
        the one validated request every entry point builds
Metrics live in :mod:`cvd_explorer.explain.metrics`.
"""

from __future__ import annotations

from cvd_explorer._lazy import lazy_attributes
from cvd_explorer.explain.base import MethodOptions
from cvd_explorer.explain.registry import (
    CAM_METHODS,
    DEFAULT_METHOD,
    METHODS,
    PIXEL_METHODS,
    SPECS,
    MethodSpec,
    method_spec,
    register,
    unregister,
)
from cvd_explorer.explain.smooth import SmoothOptions

# Heavy modules (TensorFlow) load on first use, so `cvd-explorer --help` stays fast.
_LAZY = {
    "feature_maps": "cvd_explorer.explain.activations",
    "Explanation": "cvd_explorer.explain.engine",
    "compute_cams": "cvd_explorer.explain.engine",
    "explain_all": "cvd_explorer.explain.engine",
    "predict_logits": "cvd_explorer.explain.engine",
    "normalize_maps": "cvd_explorer.explain.maps",
    "attribute": "cvd_explorer.explain.attributions",
    "explain_pixels": "cvd_explorer.explain.attributions",
    "completeness_gap": "cvd_explorer.explain.attributions",
    "PixelExplanation": "cvd_explorer.explain.attributions",
    "ExplainError": "cvd_explorer.explain.errors",
    "ExplainRequest": "cvd_explorer.explain.request",
    "explain_request": "cvd_explorer.explain.request",
    "explain_batch": "cvd_explorer.explain.engine",
    "GradientCAM": "cvd_explorer.explain.cam",
    "ActivationCAM": "cvd_explorer.explain.cam",
    "ChannelScoreCAM": "cvd_explorer.explain.cam",
    "CAMOptions": "cvd_explorer.explain.cam",
    "GradientCAMOptions": "cvd_explorer.explain.cam",
    "ScoreCAMOptions": "cvd_explorer.explain.cam",
    "PixelMethod": "cvd_explorer.explain.pixel",
    "PixelContext": "cvd_explorer.explain.pixel",
    "PixelOptions": "cvd_explorer.explain.pixel",
}

__all__ = [
    "CAM_METHODS",
    "DEFAULT_METHOD",
    "METHODS",
    "PIXEL_METHODS",
    "SPECS",
    "ActivationCAM",
    "CAMOptions",
    "ChannelScoreCAM",
    "ExplainError",
    "ExplainRequest",
    "Explanation",
    "GradientCAM",
    "GradientCAMOptions",
    "MethodOptions",
    "MethodSpec",
    "PixelContext",
    "PixelExplanation",
    "PixelMethod",
    "PixelOptions",
    "ScoreCAMOptions",
    "SmoothOptions",
    "attribute",
    "completeness_gap",
    "compute_cams",
    "explain_all",
    "explain_batch",
    "explain_pixels",
    "explain_request",
    "feature_maps",
    "method_spec",
    "normalize_maps",
    "predict_logits",
    "register",
    "unregister",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    _LAZY,
    {name for name, module in _LAZY.items() if module.rpartition(".")[2] not in ("errors", "maps")},
)
