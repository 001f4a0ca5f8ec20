"""The explanation methods: what each one is, as data, importable without TensorFlow.

Every method is one :class:`MethodSpec` line in :data:`SPECS` plus one implementation class
(in :mod:`cvd_explorer.explain.cam` for the CAMs, :mod:`cvd_explorer.explain.pixel` for the pixel
attributions), named by ``implementation`` and imported only
when the method runs. The CLI's ``--help``, the Explorer's method list and the session's cache
rules read the specs; the engine dispatches on ``family``; nothing else names a method.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from cvd_explorer.explain.errors import ExplainError

GRADIENT = "gradient"
"""Family: weights from the gradients of the target score at the layer (one backward pass for every layer)."""
ACTIVATION = "activation"
"""Family: the layer's activations alone (one forward pass for every layer)."""
SCORE = "score"
"""Family: channel scores from masked forward passes of the input (costly: one layer at a time)."""
PIXEL = "pixel"
"""Family: attributions at the input pixels, with no layer."""
FAMILIES = (GRADIENT, ACTIVATION, SCORE, PIXEL)


@dataclass(frozen=True)
class MethodSpec:
    """What the package needs to know about one explanation method.

    Attributes:
        name: the method's name (``method=`` of the engine, ``--method`` of the CLI).
        label: human name (the Explorer's method list).
        family: one of :data:`FAMILIES`; how the engine computes it.
        implementation: ``"module:Class"`` of the class that computes it (imported on first use).
        per_layer: computed one layer at a time, on demand, because it is costly (Score-CAM).
        uses_layer: explains a layer's evidence; False for pixel attributions with no layer.
    """

    name: str
    label: str
    family: str
    implementation: str
    per_layer: bool = False
    uses_layer: bool = True

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"method {self.name!r}: family must be one of {FAMILIES}, got {self.family!r}")
        if self.per_layer and not self.uses_layer:
            raise ValueError(f"method {self.name!r}: a method with no layer cannot be computed per layer")

    def load(self) -> type:
        """The implementation class (imports its module, with TensorFlow)."""
        module, _, name = self.implementation.partition(":")
        cls: type = getattr(importlib.import_module(module), name)
        return cls


_CAM = "cvd_explorer.explain.cam"
_PIX = "cvd_explorer.explain.pixel"

SPECS: tuple[MethodSpec, ...] = (
    MethodSpec("gradcam", "Grad-CAM", GRADIENT, f"{_CAM}:GradCAM"),
    MethodSpec("gradcam++", "Grad-CAM++", GRADIENT, f"{_CAM}:GradCAMPlusPlus"),
    MethodSpec("hirescam", "HiResCAM", GRADIENT, f"{_CAM}:HiResCAM"),
    MethodSpec("xgradcam", "XGrad-CAM", GRADIENT, f"{_CAM}:XGradCAM"),
    MethodSpec("layercam", "Layer-CAM", GRADIENT, f"{_CAM}:LayerCAM"),
    MethodSpec("scorecam", "Score-CAM", SCORE, f"{_CAM}:ScoreCAM", per_layer=True),
    MethodSpec("eigencam", "Eigen-CAM", ACTIVATION, f"{_CAM}:EigenCAM"),
    MethodSpec("saliency", "Saliency (gradient)", PIXEL, f"{_PIX}:Saliency", uses_layer=False),
    MethodSpec("smoothgrad", "SmoothGrad", PIXEL, f"{_PIX}:SmoothGrad", uses_layer=False),
    MethodSpec("integrated-gradients", "Integrated Gradients", PIXEL, f"{_PIX}:IntegratedGradients", uses_layer=False),
    MethodSpec("guided-backprop", "Guided Backprop", PIXEL, f"{_PIX}:GuidedBackprop", uses_layer=False),
    MethodSpec("guided-gradcam", "Guided Grad-CAM", PIXEL, f"{_PIX}:GuidedGradCAM"),
)

METHODS: tuple[str, ...] = tuple(spec.name for spec in SPECS)
"""Names of every method, in the order they are offered."""

CAM_METHODS: tuple[str, ...] = tuple(spec.name for spec in SPECS if spec.family != PIXEL)
"""The layer CAMs (what :func:`~cvd_explorer.explain.compute_cams` computes)."""

PIXEL_METHODS: tuple[str, ...] = tuple(spec.name for spec in SPECS if spec.family == PIXEL)
"""The pixel attributions (what :func:`~cvd_explorer.explain.attribute` computes)."""

DEFAULT_METHOD = METHODS[0]
"""The method used when none is named (Grad-CAM)."""

_BY_NAME = {spec.name: spec for spec in SPECS}


def method_spec(name: str) -> MethodSpec:
    """The spec of method ``name``.

    Raises:
        ExplainError: ``name`` is not one of :data:`METHODS`.
    """
    spec = _BY_NAME.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ExplainError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return spec
