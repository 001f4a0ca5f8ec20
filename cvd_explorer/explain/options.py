"""Typed options: frozen dataclasses whose fields are checked against their annotations.

Xplique's pattern: a method's options are typed arguments with defaults, so a wrong name or type
fails where it is written and the signature documents itself. :class:`Options` checks every field
on construction (``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, ``X | None``, any class)
plus the bounds of :func:`option`; :func:`build` turns keyword arguments into an options object
with errors that name the owner (a method, or a function such as ``deletion_auc``).
No TensorFlow here.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import numpy as np

from cvd_explorer.explain.errors import ExplainError

_O = TypeVar("_O", bound="Options")


def option(default: Any, *, low: float | None = None, above: float | None = None) -> Any:
    """A field with a default and a bound: ``low`` (value >= low) or ``above`` (value > above)."""
    return field(default=default, metadata={"low": low, "above": above})


@dataclass(frozen=True)
class Options:
    """Base of every options dataclass: each field is checked against its type and bounds.

    Raises:
        ExplainError: a field whose value does not fit, naming the field, the type and the value.
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if not _fits(value, hints[f.name]):
                raise ExplainError(f"{f.name} must be {_describe(hints[f.name])}, got {value!r}")
            low, above = f.metadata.get("low"), f.metadata.get("above")
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                if low is not None and value < low:
                    raise ExplainError(f"{f.name} must be {_describe(hints[f.name])} >= {low:g}, got {value!r}")
                if above is not None and value <= above:
                    raise ExplainError(f"{f.name} must be {_describe(hints[f.name])} > {above:g}, got {value!r}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names, in order."""
        return tuple(f.name for f in fields(cls))

    def as_dict(self) -> dict[str, Any]:
        """The fields by name (values as given, arrays not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build(cls: type[_O], owner: str, given: Mapping[str, Any]) -> _O:
    """``cls(**given)`` with clear errors; ``None`` values mean "the default".

    Raises:
        ExplainError: ``"<owner> has no option 'x'; its options: ..."`` or ``"<owner>: <field> must be ..."``.
    """
    known = cls.names()
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ExplainError(f"{owner} has no option {', '.join(map(repr, unknown))}; its options: "
                           f"{', '.join(known) or 'none'}")
    try:
        return cls(**{k: v for k, v in given.items() if v is not None})
    except ExplainError as exc:
        raise ExplainError(f"{owner}: {exc}") from None


def _fits(value: Any, tp: Any) -> bool:
    origin = get_origin(tp)
    if tp is Any:
        return True
    if origin is Union or origin is types.UnionType:
        return any(_fits(value, arg) for arg in get_args(tp))
    if origin is Literal:
        return any(type(value) is type(arg) and value == arg for arg in get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, (bool, np.bool_))
    if tp is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if tp is float:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        return ok and math.isfinite(float(value))
    return isinstance(value, origin or tp)


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return " or ".join(_describe(arg) for arg in get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(map(repr, get_args(tp)))
    names = {int: "an integer", float: "a number", bool: "True or False", str: "a string", type(None): "None"}
    if tp in names:
        return names[tp]
    return f"a {getattr(origin or tp, '__name__', str(tp))}"
