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
    METHODS, DEFAULT_METHOD, method_spec(name): the methods and what each declares
        (:mod:`cvd_explorer.explain.registry`, importable without TensorFlow).
Metrics live in :mod:`cvd_explorer.explain.metrics`.
"""

from __future__ import annotations

from cvd_explorer._lazy import lazy_attributes
from cvd_explorer.explain.registry import (
    CAM_METHODS,
    DEFAULT_METHOD,
    METHODS,
    PIXEL_METHODS,
    MethodSpec,
    method_spec,
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
}

__all__ = [
    "CAM_METHODS",
    "DEFAULT_METHOD",
    "METHODS",
    "PIXEL_METHODS",
    "ExplainError",
    "Explanation",
    "MethodSpec",
    "PixelExplanation",
    "SmoothOptions",
    "attribute",
    "completeness_gap",
    "compute_cams",
    "explain_pixels",
    "explain_all",
    "feature_maps",
    "method_spec",
    "normalize_maps",
    "predict_logits",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    _LAZY,
    {"feature_maps", "Explanation", "compute_cams", "explain_all", "predict_logits", "attribute", "explain_pixels",
     "completeness_gap", "PixelExplanation"},
)
