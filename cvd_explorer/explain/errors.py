"""The explain engine's error type: a :class:`~cvd_explorer.errors.ModelError` that is also a ValueError."""

from __future__ import annotations

from cvd_explorer.errors import ModelError


class ExplainError(ModelError, ValueError):
    """An explanation was asked for with an unknown method, layer, target or a wrongly shaped input.

    It is a ``ValueError`` (what callers of a numeric API expect) and a ``ModelError`` (what the
    CLI and panels catch and print on one line).
    """
