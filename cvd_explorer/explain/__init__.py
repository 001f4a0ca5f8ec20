"""Explain engine: feature maps and a family of CAMs across every conv layer in one pass.

Public API:
    feature_maps(model, images, layers) -> {layer: (N, h, w, C) float32}
    compute_cams(model, images, layers=None, method="gradcam", target="predicted", ...) -> {layer: (N, H, W)}
    explain_all(model, images, layers=None, method="gradcam", target="predicted") -> Explanation
    METHODS: names of the CAM methods.
Metrics live in :mod:`cvd_explorer.explain.metrics`.
"""

from __future__ import annotations

from cvd_explorer.explain.activations import feature_maps
from cvd_explorer.explain.cam import METHODS
from cvd_explorer.explain.engine import Explanation, compute_cams, explain_all, normalize_maps
from cvd_explorer.explain.errors import ExplainError

__all__ = ["METHODS", "ExplainError", "Explanation", "compute_cams", "explain_all", "feature_maps", "normalize_maps"]
