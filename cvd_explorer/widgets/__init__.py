"""Jupyter panels. ipywidgets is imported when a panel is first used, not with the package."""

from __future__ import annotations

import importlib

_LAZY = {
    "Compare": "cvd_explorer.widgets.compare",
    "Explorer": "cvd_explorer.widgets.explorer",
    "TrainingPanel": "cvd_explorer.widgets.training",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cvd_explorer.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
