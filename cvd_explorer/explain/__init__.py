"""Explain engine: feature maps and a family of CAMs across every conv layer in one pass.

Public API:
    feature_maps(model, images, layers) -> {layer: (N, h, w, C) float32}
    compute_cams(model, images, layers=None, method="gradcam", target="predicted", ...) -> {layer: (N, H, W)}
    explain_all(model, images, layers=None, method="gradcam", target="predicted") -> Explanation
    METHODS: names of the CAM methods.
Metrics live in :mod:`cvd_explorer.explain.metrics`.
"""

from __future__ import annotations

from cvd_explorer._lazy import lazy_attributes
from cvd_explorer.explain.names import METHODS

# Heavy modules (TensorFlow) load on first use, so `cvd-explorer --help` stays fast.
_LAZY = {
    "feature_maps": "cvd_explorer.explain.activations",
    "Explanation": "cvd_explorer.explain.engine",
    "compute_cams": "cvd_explorer.explain.engine",
    "explain_all": "cvd_explorer.explain.engine",
    "normalize_maps": "cvd_explorer.explain.maps",
    "ExplainError": "cvd_explorer.explain.errors",
}

__all__ = ["METHODS", "ExplainError", "Explanation", "compute_cams", "explain_all", "feature_maps", "normalize_maps"]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, {"feature_maps", "Explanation", "compute_cams", "explain_all"})
