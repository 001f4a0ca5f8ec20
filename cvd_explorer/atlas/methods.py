"""Which CAM methods an atlas can use: those computed for every layer in one pass."""

from __future__ import annotations

from cvd_explorer.explain.names import METHODS

DEFAULT_METHOD = METHODS[0]


def atlas_method(name: str | None) -> str:
    """``name`` checked for the atlas (None: the default method)."""
    from cvd_explorer.explain.errors import ExplainError

    name = DEFAULT_METHOD if name is None else name
    if name not in METHODS:
        raise ExplainError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    if name == METHODS[5]:
        raise ExplainError(f"{name} is computed one layer at a time; the atlas needs every layer in one pass")
    return name
