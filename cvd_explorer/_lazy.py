"""Module attributes imported on first use, so importing a package stays cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any


def lazy_attributes(
    package: str, table: Mapping[str, str], tensorflow: Collection[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name in ``table`` is imported from its
    module on first access and then kept in the package's namespace. Names in ``tensorflow``
    need TensorFlow: it is imported first, without its C++ start-up chatter (which a notebook
    would otherwise show as stderr), see :mod:`cvd_explorer.quiet_tf`."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if name in tensorflow:
            from cvd_explorer.quiet_tf import import_tensorflow

            import_tensorflow()
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
