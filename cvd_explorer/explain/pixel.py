"""The pixel family: one small class per attribution method, over input gradients from the explain view.

Every method returns *signed* attributions ``(N, H, W, C)`` float32 at the input pixels from a
:class:`PixelContext` (the validated call: model, images, per-image class weights, a gradient
function); :mod:`cvd_explorer.explain.attributions` reduces and normalises them. Each class
declares its options as a frozen dataclass of typed fields with defaults (``Options``, a
:class:`PixelOptions`); an unknown option or a bad value is an
:class:`~cvd_explorer.explain.errors.ExplainError` naming the method and the option.

Gradients are taken with respect to the images exactly as the model receives them (0-255 for the
project's models), through the same view as the CAMs (nested models, the head's logit: dog ``z``,
cat ``-z``). Guided backpropagation changes the ReLUs' backward rule *inside the view* (see
:func:`guided_hook`); the model's layers, activations and weights are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import cv2
import keras
import numpy as np

from cvd_explorer.explain import _tf_grad
from cvd_explorer.explain.activations import batched_logits, cached_step
from cvd_explorer.explain.base import PIXEL, Method, MethodOptions
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import normalize_maps_in_place, resize_maps
from cvd_explorer.explain.options import option
from cvd_explorer.explain.request import ExplainRequest
from cvd_explorer.explain.smooth import SmoothOptions, noisy_copies
from cvd_explorer.explain.targets import Target, scores
from cvd_explorer.explain.view import Head, run_view

_O = TypeVar("_O", bound=MethodOptions)

BASELINES = ("black", "blur", "noise")
"""Integrated gradients' named baselines: zeros of the input space, a Gaussian blur of the image
(``blur_sigma`` px), uniform noise over the image's own value range (``seed``)."""


def is_relu(layer: Any) -> bool:
    """True for a leaf layer whose output is a plain ReLU: ``ReLU()``, ``Activation("relu")`` or
    any layer built with ``activation="relu"`` (Conv2D, Dense, ...)."""
    if isinstance(layer, keras.layers.ReLU):
        slope = float(np.asarray(getattr(layer, "negative_slope", 0.0)))
        threshold = float(np.asarray(getattr(layer, "threshold", 0.0)))
        return getattr(layer, "max_value", None) is None and slope == 0.0 and threshold == 0.0
    return getattr(getattr(layer, "activation", None), "__name__", None) == "relu"


def guided_hook(layer: Any, out: Any) -> Any:
    """The view's leaf hook for guided backpropagation: the output of every ReLU gets the
    positive-gradient identity of :func:`~cvd_explorer.explain._tf_grad.guided_identity`."""
    return _tf_grad.guided_identity(out) if is_relu(layer) else out


def _gradient_builder(head: Head, target: Target, guided: bool) -> Callable[[Callable[[], Any]], Callable[..., Any]]:
    hook = guided_hook if guided else None

    def build(ref: Callable[[], Any]) -> Callable[..., Any]:
        def step(x: Any, w: Any) -> tuple[Any, Any]:
            def forward(inp: Any) -> tuple[list[Any], Any, Any]:
                _, logits, _ = run_view(ref(), inp, frozenset(), head, hook)
                return [inp], scores(target, logits, w), logits

            _, grads, logits = _tf_grad.score_and_gradients(forward, x)
            return grads[0], logits

        return _tf_grad.trace(step)

    return build


@dataclass(frozen=True)
class PixelContext:
    """One validated attribution call, what a :class:`PixelMethod` computes from.

    Attributes:
        request: the request, its target resolved (per-image classes, or a callable).
        weights: ``(N, K)`` float32 class weights of every image (the prediction on the clean
            image for ``"predicted"``), reused for its noisy copies and path points.
    """

    request: ExplainRequest
    weights: np.ndarray

    @classmethod
    def of(cls, request: ExplainRequest) -> PixelContext:
        """The context of ``request`` ("predicted" resolved on the clean images: one forward pass)."""
        resolved = request.resolved()
        return cls(resolved, resolved.weights())

    @property
    def model(self) -> Any:
        """The Keras model."""
        return self.request.model

    @property
    def x(self) -> np.ndarray:
        """float32 ``(N, H, W, C)`` images as the model takes them."""
        return self.request.x

    @property
    def batch_size(self) -> int:
        """Images (copies, path points) per pass."""
        return self.request.batch_size

    @property
    def target(self) -> Target:
        """The resolved target."""
        return self.request.target

    def gradients(self, x: np.ndarray, weights: np.ndarray, guided: bool = False) -> np.ndarray:
        """Gradient of each image's target score with respect to it: float32, the shape of ``x``."""
        key = ("input-gradients", self.target.key, guided)
        step = cached_step(self.model, key, _gradient_builder(self.request.head, self.target, guided))
        bs = self.batch_size
        parts = [np.asarray(step(x[i : i + bs], weights[i : i + bs])[0], np.float32) for i in range(0, len(x), bs)]
        return np.concatenate(parts)

    def scores(self, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Target scores ``(N,)`` float64 of images ``x`` (the logit of the target class; dog z, cat -z)."""
        logits = batched_logits(self.model, x, self.request.head, self.batch_size)
        out = scores(self.target, keras.ops.convert_to_tensor(logits), keras.ops.convert_to_tensor(weights))
        return np.asarray(out, np.float64)


@dataclass(frozen=True, kw_only=True)
class PixelOptions(MethodOptions):
    """Options every pixel attribution takes.

    Attributes:
        batch_size: images, noisy copies or path points per pass (default 32).
    """

    batch_size: int = option(32, low=1)


class PixelMethod(Method):
    """Base class of the pixel attributions: a subclass overrides :meth:`signed`.

    Its options are ``Options`` (a subclass of :class:`PixelOptions`), checked into ``self.options``.
    """

    family = PIXEL
    uses_layer = False
    Options: ClassVar[type[MethodOptions]] = PixelOptions
    overrides = ("signed",)

    def signed(self, ctx: PixelContext) -> np.ndarray:
        """Signed attributions float32 ``(N, H, W, C)``."""
        raise NotImplementedError

    def completeness(self, ctx: PixelContext, signed: np.ndarray) -> np.ndarray | None:
        """Relative completeness gap ``(N,)`` where the method promises completeness, else None."""
        return None


class Saliency(PixelMethod):
    """Simonyan et al. 2014: the gradient of the target score with respect to the input."""

    def signed(self, ctx: PixelContext) -> np.ndarray:
        return ctx.gradients(ctx.x, ctx.weights)


@dataclass(frozen=True, kw_only=True)
class SmoothGradOptions(PixelOptions):
    """SmoothGrad's options: ``samples`` noisy copies per image (25), ``noise`` (standard deviation
    as a share of each image's value range max - min, 0.15), ``seed`` (0)."""

    samples: int = option(25, low=1)
    noise: float = option(0.15, low=0.0)
    seed: int = 0

    @property
    def smooth(self) -> SmoothOptions:
        """The noisy copies' settings."""
        return SmoothOptions(int(self.samples), float(self.noise), int(self.seed))


class SmoothGrad(PixelMethod):
    """Smilkov et al. 2017: the mean gradient over ``samples`` noisy copies of each image (batched)."""

    Options = SmoothGradOptions

    def signed(self, ctx: PixelContext) -> np.ndarray:
        smooth = _typed(self.options, SmoothGradOptions).smooth
        k = smooth.samples
        grads = ctx.gradients(noisy_copies(ctx.x, smooth), np.repeat(ctx.weights, k, axis=0))
        mean: np.ndarray = grads.reshape(len(ctx.x), k, *ctx.x.shape[1:]).mean(axis=1)
        return mean


def baseline_images(x: np.ndarray, baseline: Any, seed: int = 0, blur_sigma: float = 5.0) -> np.ndarray:
    """Integrated gradients' baseline for every image, float32 like ``x`` ``(N, H, W, C)``.

    Args:
        x: the images, in the model's input space.
        baseline: ``"black"`` (zeros in that space), ``"blur"`` (Gaussian blur, ``blur_sigma``
            px), ``"noise"`` (uniform in ``[min(x_i), max(x_i)]``, seeded) or an array of the
            images' shape (or of one image's, used for all).

    Raises:
        ExplainError: an unknown name or an array of another shape.
    """
    if isinstance(baseline, str):
        if baseline == "black":
            return np.zeros_like(x)
        if baseline == "blur":
            return np.stack([cv2.GaussianBlur(img, (0, 0), float(blur_sigma)) for img in x]).reshape(x.shape)
        if baseline == "noise":
            rng = np.random.default_rng(int(seed))
            lo = x.min(axis=(1, 2, 3), keepdims=True)
            hi = x.max(axis=(1, 2, 3), keepdims=True)
            noise: np.ndarray = (lo + (hi - lo) * rng.random(x.shape, dtype=np.float32)).astype(np.float32)
            return noise
        raise ExplainError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)} or pass an array")
    arr = np.asarray(baseline, np.float32)
    if arr.shape == x.shape[1:]:
        arr = np.broadcast_to(arr, x.shape)
    if arr.shape != x.shape:
        raise ExplainError(f"a baseline array must have shape {x.shape} or {x.shape[1:]}, got {arr.shape}")
    return np.array(arr, np.float32)


@dataclass(frozen=True, kw_only=True)
class IntegratedGradientsOptions(PixelOptions):
    """Integrated gradients' options: ``steps`` of the path (64), ``baseline`` (one of
    :data:`BASELINES` or an array, ``"black"``), ``seed`` (the ``noise`` baseline, 0),
    ``blur_sigma`` (px, the ``blur`` baseline, 5)."""

    steps: int = option(64, low=1)
    baseline: str | np.ndarray = "black"
    seed: int = 0
    blur_sigma: float = option(5.0, above=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.baseline, str) and self.baseline not in BASELINES:
            raise ExplainError(f"unknown baseline {self.baseline!r}; choose one of {', '.join(BASELINES)}")

    def baseline_of(self, x: np.ndarray) -> np.ndarray:
        """The baseline images ``(N, H, W, C)`` of images ``x``."""
        return baseline_images(x, self.baseline, int(self.seed), float(self.blur_sigma))


class IntegratedGradients(PixelMethod):
    """Sundararajan et al. 2017: ``(x - x0) * mean_k grad(x0 + a_k (x - x0))``.

    The path integral uses the midpoint rule, ``a_k = (k + 0.5) / steps``, with the path points of
    one image batched (options: :class:`IntegratedGradientsOptions`). Completeness: the
    attributions sum to ``score(x) - score(x0)`` up to the gap :meth:`completeness` reports.
    """

    Options = IntegratedGradientsOptions

    def signed(self, ctx: PixelContext) -> np.ndarray:
        o = _typed(self.options, IntegratedGradientsOptions)
        steps = int(o.steps)
        x0 = o.baseline_of(ctx.x)
        alphas = ((np.arange(steps, dtype=np.float32) + 0.5) / steps)[:, None, None, None]
        out = np.empty_like(ctx.x)
        for i in range(len(ctx.x)):
            delta = ctx.x[i] - x0[i]
            path = (x0[i][None] + alphas * delta[None]).astype(np.float32)
            grads = ctx.gradients(path, np.repeat(ctx.weights[i : i + 1], steps, axis=0))
            out[i] = delta * grads.mean(axis=0)
        return out

    def completeness(self, ctx: PixelContext, signed: np.ndarray) -> np.ndarray:
        x0 = _typed(self.options, IntegratedGradientsOptions).baseline_of(ctx.x)
        return relative_gap(signed, ctx.scores(ctx.x, ctx.weights), ctx.scores(x0, ctx.weights))


def relative_gap(attributions: np.ndarray, score_x: np.ndarray, score_x0: np.ndarray) -> np.ndarray:
    """``|sum(attributions_i) - (s(x_i) - s(x0_i))| / |s(x_i) - s(x0_i)|`` ``(N,)`` float64
    (the denominator floored at 1e-6: a baseline scored like the image makes any sum a large gap)."""
    total = np.asarray(attributions, np.float64).reshape(len(attributions), -1).sum(axis=1)
    delta = np.asarray(score_x, np.float64) - np.asarray(score_x0, np.float64)
    gap: np.ndarray = np.abs(total - delta) / np.maximum(np.abs(delta), 1e-6)
    return gap


class GuidedBackprop(PixelMethod):
    """Springenberg et al. 2015: the input gradient with every ReLU passing back only positive
    gradients where its input was positive (changed in the explain view, not in the model)."""

    def signed(self, ctx: PixelContext) -> np.ndarray:
        return ctx.gradients(ctx.x, ctx.weights, guided=True)


@dataclass(frozen=True, kw_only=True)
class GuidedGradCAMOptions(PixelOptions):
    """Guided Grad-CAM's options: ``layer`` whose Grad-CAM weighs the guided gradients (None: the
    model's deepest Conv2D layer)."""

    layer: str | None = None


class GuidedGradCAM(PixelMethod):
    """Selvaraju et al. 2017: guided backpropagation times the Grad-CAM of ``layer`` (ReLU'd,
    scaled to [0, 1], upsampled bilinearly to the input)."""

    uses_layer = True
    Options = GuidedGradCAMOptions

    def layer(self, model: Any) -> str:
        """The layer whose Grad-CAM weighs the guided gradients."""
        from cvd_explorer.models import conv_layers

        layer = _typed(self.options, GuidedGradCAMOptions).layer
        if layer is not None:
            return layer
        convs = conv_layers(model)
        if not convs:
            raise ExplainError(f"model {model.name!r} has no Conv2D layer; pass layer= to {self.name}")
        return convs[-1]

    def signed(self, ctx: PixelContext) -> np.ndarray:
        from cvd_explorer.explain.engine import maps_of
        from cvd_explorer.explain.request import explain_request

        guided = ctx.gradients(ctx.x, ctx.weights, guided=True)
        layer = self.layer(ctx.model)
        cam_request = explain_request(ctx.model, ctx.x, [layer], "gradcam", ctx.target, batch_size=ctx.batch_size)
        return guided_gradcam(guided, maps_of(cam_request, normalize=True, size="input")[layer])


def guided_gradcam(guided: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """``guided (N, H, W, C) * cam (N, h, w)``: the CAM ReLU'd, scaled to [0, 1] and resized to ``(H, W)``."""
    cam = normalize_maps_in_place(resize_maps(cam, (int(guided.shape[1]), int(guided.shape[2]))))
    out: np.ndarray = (guided * cam[..., None]).astype(np.float32)
    return out


def _typed(options: MethodOptions, kind: type[_O]) -> _O:
    if not isinstance(options, kind):
        raise ExplainError(f"options {type(options).__name__} are not {kind.__name__}")
    return options
