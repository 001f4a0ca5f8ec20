"""The root of every explanation method and of its options (no TensorFlow).

A method class declares, as class attributes inherited from its family's base, everything the
package needs to know about it: ``family``, ``per_layer``, ``uses_layer`` and ``Options`` (a
frozen dataclass of typed fields with defaults). The family bases live in
:mod:`cvd_explorer.explain.cam` (``GradientCAM``, ``ActivationCAM``, ``ChannelScoreCAM``) and
:mod:`cvd_explorer.explain.pixel` (``PixelMethod``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.options import Options, build, option

if TYPE_CHECKING:
    from cvd_explorer.explain.registry import MethodSpec

GRADIENT = "gradient"
"""Family: weights from the gradients of the target score at the layer (one backward pass for every layer)."""
ACTIVATION = "activation"
"""Family: the layer's activations alone (one forward pass for every layer)."""
SCORE = "score"
"""Family: channel scores from masked forward passes of the input (costly: one layer at a time)."""
PIXEL = "pixel"
"""Family: attributions at the input pixels, with no layer."""
FAMILIES = (GRADIENT, ACTIVATION, SCORE, PIXEL)


@dataclass(frozen=True, kw_only=True)
class MethodOptions(Options):
    """Options every method takes.

    Attributes:
        batch_size: images (noisy copies, path points, masked copies) per pass; at least 1.
    """

    batch_size: int = option(16, low=1)


class Method:
    """Base of every explanation method (subclass a family base, not this).

    Attributes:
        family: the family (set by the family's base class).
        per_layer: computed one layer per call (costly).
        uses_layer: explains a layer's evidence.
        Options: the options dataclass; an instance's validated options are ``self.options``.
        overrides: the family base's methods of which a subclass must override at least one.
    """

    family: ClassVar[str] = ""
    per_layer: ClassVar[bool] = False
    uses_layer: ClassVar[bool] = True
    Options: ClassVar[type[MethodOptions]] = MethodOptions
    overrides: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: MethodSpec, options: MethodOptions | None = None) -> None:
        self.spec = spec
        self.options = options if options is not None else self.Options()

    @property
    def name(self) -> str:
        """The method's registered name."""
        return self.spec.name

    @classmethod
    def create(cls, spec: MethodSpec, given: Mapping[str, Any]) -> Method:
        """An instance with ``given`` options checked into :attr:`Options` (errors name the method)."""
        return cls(spec, build(cls.Options, spec.name, given))


def family_base(cls: type[Method]) -> type[Method]:
    """The public base of ``cls``'s family (the class in its MRO that sets ``family``)."""
    return next(b for b in cls.__mro__ if "family" in vars(b))


def check_method_class(name: str, cls: Any) -> type[Method]:
    """``cls`` itself, once checked: a subclass of a family base that overrides what the family computes.

    Raises:
        ExplainError: not a class, not a subclass of GradientCAM / ActivationCAM /
            ChannelScoreCAM / PixelMethod, a family base itself, overriding none of its methods, or
            with ``Options`` that do not extend the family's.
    """
    bases = "GradientCAM, ActivationCAM, ChannelScoreCAM or PixelMethod from cvd_explorer.explain"
    if not (isinstance(cls, type) and issubclass(cls, Method) and cls.family in FAMILIES):
        raise ExplainError(f"method {name!r}: {cls!r} is not a subclass of {bases}")
    base = family_base(cls)
    if base is cls:
        raise ExplainError(f"method {name!r}: {cls.__name__} is a family base; register a subclass of it")
    if base.overrides and not any(getattr(cls, m) is not getattr(base, m) for m in base.overrides):
        raise ExplainError(f"method {name!r}: {cls.__name__} must override {' or '.join(base.overrides)} of "
                           f"{base.__name__}")
    if not (isinstance(cls.Options, type) and issubclass(cls.Options, base.Options)):
        raise ExplainError(f"method {name!r}: {cls.__name__}.Options must subclass {base.Options.__name__} (the "
                           f"options of {base.__name__})")
    return cls
