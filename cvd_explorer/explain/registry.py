"""The explanation methods by name: an open registry, importable without TensorFlow.

Each method is a name, a label and a class. The class says everything else: its family is the
public base it derives from (:class:`~cvd_explorer.explain.GradientCAM`,
:class:`~cvd_explorer.explain.ActivationCAM`, :class:`~cvd_explorer.explain.ChannelScoreCAM`,
:class:`~cvd_explorer.explain.PixelMethod`), and so are its options (a frozen dataclass,
``cls.Options``), whether it is computed one layer at a time and whether it uses a layer at all.
The built-in methods name their classes as ``"module:Class"`` so that this module, the CLI's
``--help`` and the method names load without TensorFlow; a class is imported when something asks
what it is. :func:`register` adds a user's method; the engine, the CLI's ``--method`` and the
Explorer's method list read the registry when they run, so a registered method is offered
everywhere.

:data:`SPECS`, :data:`METHODS`, :data:`CAM_METHODS` and :data:`PIXEL_METHODS` are live, read-only
views: they always show what is registered now.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from cvd_explorer.explain.base import (
    ACTIVATION,
    FAMILIES,
    GRADIENT,
    PIXEL,
    SCORE,
    Method,
    MethodOptions,
    check_method_class,
)
from cvd_explorer.explain.errors import ExplainError

__all__ = ["ACTIVATION", "CAM_METHODS", "DEFAULT_METHOD", "FAMILIES", "GRADIENT", "METHODS", "PIXEL",
           "PIXEL_METHODS", "SCORE", "SPECS", "MethodSpec", "method_spec", "register", "unregister"]



@dataclass(frozen=True)
class MethodSpec:
    """One registered explanation method: its name, its label and its class.

    Attributes:
        name: the method's name (``method=`` of the engine, ``--method`` of the CLI).
        label: human name (the Explorer's method list).
        implementation: the class, or ``"module:Class"`` for a class imported on first use.

    ``family``, ``per_layer``, ``uses_layer`` and ``options_type`` are read from the class.
    """

    name: str
    label: str
    implementation: str | type

    def load(self) -> type:
        """The implementation class (imports its module, with TensorFlow, the first time)."""
        if isinstance(self.implementation, type):
            return self.implementation
        module, _, name = self.implementation.partition(":")
        cls: type = getattr(importlib.import_module(module), name)
        return cls

    def _trait(self, name: str) -> Any:
        value = getattr(self.load(), name, None)
        if value is None:
            raise ExplainError(f"method {self.name!r}: {self.load().__name__} derives from none of the explain bases")
        return value

    @property
    def family(self) -> str:
        """One of :data:`FAMILIES`: the family of the class's base."""
        family: str = self._trait("family")
        return family

    @property
    def per_layer(self) -> bool:
        """Computed one layer at a time, on demand, because it is costly (the score family)."""
        return bool(self._trait("per_layer"))

    @property
    def uses_layer(self) -> bool:
        """Explains a layer's evidence; False for pixel attributions with no layer."""
        return bool(self._trait("uses_layer"))

    @property
    def options_type(self) -> type[MethodOptions]:
        """The method's options, a frozen dataclass (``cls.Options``)."""
        options: type[MethodOptions] = self._trait("Options")
        return options

    def create(self, options: Mapping[str, Any]) -> Method:
        """An instance of the method with ``options`` checked (errors name the method and the option)."""
        return check_method_class(self.name, self.load()).create(self, options)


_CAM = "cvd_explorer.explain.cam"
_PIX = "cvd_explorer.explain.pixel"

_BUILT_IN: tuple[MethodSpec, ...] = (
    MethodSpec("gradcam", "Grad-CAM", f"{_CAM}:GradCAM"),
    MethodSpec("gradcam++", "Grad-CAM++", f"{_CAM}:GradCAMPlusPlus"),
    MethodSpec("hirescam", "HiResCAM", f"{_CAM}:HiResCAM"),
    MethodSpec("xgradcam", "XGrad-CAM", f"{_CAM}:XGradCAM"),
    MethodSpec("layercam", "Layer-CAM", f"{_CAM}:LayerCAM"),
    MethodSpec("scorecam", "Score-CAM", f"{_CAM}:ScoreCAM"),
    MethodSpec("eigencam", "Eigen-CAM", f"{_CAM}:EigenCAM"),
    MethodSpec("saliency", "Saliency (gradient)", f"{_PIX}:Saliency"),
    MethodSpec("smoothgrad", "SmoothGrad", f"{_PIX}:SmoothGrad"),
    MethodSpec("integrated-gradients", "Integrated Gradients", f"{_PIX}:IntegratedGradients"),
    MethodSpec("guided-backprop", "Guided Backprop", f"{_PIX}:GuidedBackprop"),
    MethodSpec("guided-gradcam", "Guided Grad-CAM", f"{_PIX}:GuidedGradCAM"),
)

_BY_NAME: dict[str, MethodSpec] = {spec.name: spec for spec in _BUILT_IN}

_T = TypeVar("_T")


class _Live(Sequence[_T]):
    """A read-only view of the registry, recomputed on every use (so it shows registered methods)."""

    def __init__(self, items: Callable[[], tuple[_T, ...]]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> _T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[_T, ...]: ...
    def __getitem__(self, index: int | slice) -> _T | tuple[_T, ...]:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[_T]:
        return iter(self._items())

    def __contains__(self, value: object) -> bool:
        return value in self._items()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and self._items() == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # equal to a tuple, so unhashable like a list

    def __add__(self, other: Sequence[_T]) -> tuple[_T, ...]:
        return self._items() + tuple(other)

    def __repr__(self) -> str:
        return repr(self._items())


SPECS: Sequence[MethodSpec] = _Live(lambda: tuple(_BY_NAME.values()))
"""Every registered method's spec, in the order they are offered (built-ins first)."""

METHODS: Sequence[str] = _Live(lambda: tuple(_BY_NAME))
"""Names of every registered method, in the order they are offered."""

CAM_METHODS: Sequence[str] = _Live(lambda: tuple(s.name for s in _BY_NAME.values() if s.family != PIXEL))
"""The layer CAMs (what :func:`~cvd_explorer.explain.compute_cams` computes); reading it imports the classes."""

PIXEL_METHODS: Sequence[str] = _Live(lambda: tuple(s.name for s in _BY_NAME.values() if s.family == PIXEL))
"""The pixel attributions (what :func:`~cvd_explorer.explain.attribute` computes); reading it imports the classes."""

DEFAULT_METHOD = "gradcam"
"""The method used when none is named (Grad-CAM)."""


def method_spec(name: str) -> MethodSpec:
    """The spec of method ``name``.

    Raises:
        ExplainError: ``name`` is not one of :data:`METHODS`.
    """
    spec = _BY_NAME.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ExplainError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return spec


def register(name: str, label: str, cls: type) -> MethodSpec:
    """Add a method: ``compute_cams``/``attribute``, the CLI's ``--method`` and the Explorer offer it.

    Args:
        name: the name to ask for it by (``method=name``); not one already registered.
        label: the human name shown in the Explorer's method list.
        cls: a subclass of one of the public bases of :mod:`cvd_explorer.explain`:
            ``GradientCAM`` (override ``weights(activations, gradients) -> (N, C)``),
            ``ActivationCAM`` (override ``combine(activations)``), ``ChannelScoreCAM`` (override
            ``weights(channel_scores)``) or ``PixelMethod`` (override ``signed(ctx)``).

    Returns:
        The new :class:`MethodSpec`. Remove it with :func:`unregister`.

    Raises:
        ExplainError: an empty or taken name, an empty label, or a class that is not such a subclass.
    """
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ExplainError(f"a method name must be a non-empty string without surrounding spaces, got {name!r}")
    if name in _BY_NAME:
        raise ExplainError(f"a method named {name!r} is already registered ({_BY_NAME[name].label}); "
                           "pick another name or unregister it first")
    if not isinstance(label, str) or not label.strip():
        raise ExplainError(f"method {name!r}: the label must be a non-empty string, got {label!r}")
    check_method_class(name, cls)
    spec = MethodSpec(name, label, cls)
    _BY_NAME[name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a method added by :func:`register` (built-in methods stay).

    Raises:
        ExplainError: ``name`` is not registered, or is a built-in method.
    """
    spec = method_spec(name)
    if any(spec is own for own in _BUILT_IN):
        raise ExplainError(f"{name!r} is a built-in method; only methods added with register() can be removed")
    del _BY_NAME[name]

