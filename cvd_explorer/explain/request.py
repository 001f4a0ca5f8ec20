"""One way to ask the explain engine: :func:`explain_request` builds an :class:`ExplainRequest`.

Every entry point (``compute_cams``, ``explain_all``, ``explain_batch``, ``attribute``,
``explain_pixels``, the metrics, the CLI and the atlas through them) builds its request here: the
images checked, the method found in the registry with its options checked into its typed
``Options``, the layers resolved, the target resolved once (:mod:`cvd_explorer.explain.targets`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cvd_explorer.explain.activations import batched_logits, check_images, check_model, head_of, resolve_layers
from cvd_explorer.explain.base import PIXEL, Method, MethodOptions
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.registry import DEFAULT_METHOD, method_spec
from cvd_explorer.explain.targets import Target, resolve_target
from cvd_explorer.explain.view import Head

TargetLike = str | int | Sequence[int] | np.ndarray | Callable[[Any], Any] | Target
"""A class name, a class index, ``"predicted"``, one class index per image, ``callable(logits (N, K)) -> (N,)``
or a resolved :class:`~cvd_explorer.explain.targets.Target`."""


@dataclass(frozen=True)
class ExplainRequest:
    """One validated question to the engine.

    Attributes:
        model: the Keras model (functional or Sequential; nested models are fine).
        x: float32 ``(N, H, W, C)`` images as the model takes them.
        head: how the view reads the logits.
        method: the method instance; its checked options are ``method.options``.
        target: the resolved target (``"predicted"`` may still await the logits, see :meth:`resolved`).
        layers: the layers explained, in depth order (empty for a pixel attribution).
        classes: the class names in index order, if given.
    """

    model: Any
    x: np.ndarray
    head: Head
    method: Method
    target: Target
    layers: tuple[str, ...]
    classes: tuple[str, ...] | None = None

    @property
    def options(self) -> MethodOptions:
        """The method's typed options."""
        return self.method.options

    @property
    def batch_size(self) -> int:
        """Images per pass (an option of every method)."""
        return int(self.method.options.batch_size)

    def logits(self) -> np.ndarray:
        """The logits ``(N, K)`` float32 of the request's images (one batched forward pass)."""
        return batched_logits(self.model, self.x, self.head, self.batch_size)

    def resolved(self, logits: np.ndarray | None = None) -> ExplainRequest:
        """The request with ``"predicted"`` made explicit: the class each image is predicted on its
        clean copy (``logits`` if given, else one forward pass), kept for every altered copy."""
        if self.target.kind != "predicted":
            return self
        return replace(self, target=self.target.resolved(self.logits() if logits is None else logits))

    def weights(self) -> np.ndarray:
        """Class weights ``(N, K)`` float32 of the target (zeros for a callable or unresolved target)."""
        return self.target.weights(self.head.units, len(self.x))


def explain_request(
    model: Any, images: Any, layers: Sequence[str] | str | None = None, method: str = DEFAULT_METHOD,
    target: TargetLike = "predicted", *, classes: Sequence[str] | None = None, **options: Any,
) -> ExplainRequest:
    """Check everything once and build the request.

    Args:
        model: functional or Sequential Keras model with one output.
        images: ``(N, H, W, C)`` as the model takes them.
        layers: layer names (None: every Conv2D layer); ignored by pixel attributions (guided
            Grad-CAM takes its layer as the option ``layer``).
        method: a registered method name.
        target: see :func:`~cvd_explorer.explain.targets.resolve_target`.
        classes: class names in index order (default ``("cat", "dog")``).
        **options: the method's options (fields of ``method_spec(method).options_type``).

    Raises:
        ExplainError: an unknown method, option, option value, layer or target; images of the
            wrong shape; several layers for a per-layer method.
    """
    check_model(model)
    x = check_images(model, images)
    spec = method_spec(method)
    instance = spec.create(options)
    names: tuple[str, ...] = ()
    if spec.family != PIXEL:
        names = resolve_layers(model, layers)
        if spec.per_layer and len(names) != 1:
            raise ExplainError(f"{spec.name} explains one layer per call (got {len(names)}); pass layers=[name]")
    head = head_of(model)
    names_of_classes = tuple(str(c) for c in classes) if classes is not None else None
    return ExplainRequest(model, x, head, instance, resolve_target(target, head.units, len(x), classes), names,
                          names_of_classes)
