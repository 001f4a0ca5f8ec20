"""Jupyter panels. ipywidgets is imported when a panel is first used, not with the package."""

from __future__ import annotations

from cvd_explorer._lazy import lazy_attributes

_LAZY = {
    "Atlas": "cvd_explorer.widgets.atlas",
    "Compare": "cvd_explorer.widgets.compare",
    "Explorer": "cvd_explorer.widgets.explorer",
    "TrainingPanel": "cvd_explorer.widgets.training",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, {"Compare", "Explorer"})
