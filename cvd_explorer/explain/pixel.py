"""The pixel family: one small class per attribution method, over input gradients from the explain view.

Every method returns *signed* attributions ``(N, H, W, C)`` float32 at the input pixels from a
:class:`PixelContext` (the validated call: model, images, per-image class weights, a gradient
function); :mod:`cvd_explorer.explain.attributions` reduces and normalises them. Each class is
named by one line of :data:`cvd_explorer.explain.registry.SPECS` (family ``pixel``) and declares
its options with their defaults in :attr:`PixelMethod.defaults`; an unknown option or a bad value
is an :class:`~cvd_explorer.explain.errors.ExplainError`.

Gradients are taken with respect to the images exactly as the model receives them (0-255 for the
project's models), through the same view as the CAMs (nested models, the head's logit: dog ``z``,
cat ``-z``). Guided backpropagation changes the ReLUs' backward rule *inside the view* (see
:func:`guided_hook`); the model's layers, activations and weights are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import keras
import numpy as np

from cvd_explorer.explain import _tf_grad
from cvd_explorer.explain.activations import cached_step
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import normalize_maps_in_place, resize_maps
from cvd_explorer.explain.registry import PIXEL, MethodSpec, method_spec
from cvd_explorer.explain.smooth import SmoothOptions, noisy_copies
from cvd_explorer.explain.targets import Target, scores
from cvd_explorer.explain.view import Head, run_view

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
    """One validated attribution call.

    Attributes:
        model: the Keras model (functional or Sequential).
        x: float32 ``(N, H, W, C)`` images as the model takes them.
        head: how the view reads the logits.
        target: ``Target("fixed")`` (scored with ``weights``) or a callable target.
        weights: ``(N, K)`` float32 class weights of every image (the prediction on the clean
            image for ``"predicted"``), reused for its noisy copies and path points.
        batch_size: images (copies, path points) per pass.
        classes: class names (for guided Grad-CAM's CAM).
    """

    model: Any
    x: np.ndarray
    head: Head
    target: Target
    weights: np.ndarray
    batch_size: int
    classes: tuple[str, ...] | None = None

    def gradients(self, x: np.ndarray, weights: np.ndarray, guided: bool = False) -> np.ndarray:
        """Gradient of each image's target score with respect to it: float32, the shape of ``x``."""
        key = ("input-gradients", self.target.key, guided)
        step = cached_step(self.model, key, _gradient_builder(self.head, self.target, guided))
        bs = self.batch_size
        parts = [np.asarray(step(x[i : i + bs], weights[i : i + bs])[0], np.float32) for i in range(0, len(x), bs)]
        return np.concatenate(parts)

    def scores(self, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Target scores ``(N,)`` float64 of images ``x`` (the logit of the target class; dog z, cat -z)."""
        from cvd_explorer.explain.engine import predict_logits

        logits = predict_logits(self.model, x, self.batch_size)
        out = scores(self.target, keras.ops.convert_to_tensor(logits), keras.ops.convert_to_tensor(weights))
        return np.asarray(out, np.float64)


class PixelMethod:
    """Base class of the pixel attributions.

    Attributes:
        family: always :data:`~cvd_explorer.explain.registry.PIXEL`.
        defaults: the method's options and their default values.
        spec: the method's spec; options: the validated options (defaults filled in).
    """

    family: ClassVar[str] = PIXEL
    defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, spec: MethodSpec, options: Mapping[str, Any]) -> None:
        self.spec = spec
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise ExplainError(f"{spec.name} has no option {', '.join(map(repr, unknown))}; its options: {known}")
        self.options = {**self.defaults, **{k: v for k, v in options.items() if v is not None}}
        self.check()

    @property
    def name(self) -> str:
        """The method's name."""
        return self.spec.name

    def check(self) -> None:
        """Validate :attr:`options` (raise ExplainError naming the bad value)."""

    def signed(self, ctx: PixelContext) -> np.ndarray:
        """Signed attributions float32 ``(N, H, W, C)``."""
        raise NotImplementedError

    def completeness(self, ctx: PixelContext, signed: np.ndarray) -> np.ndarray | None:
        """Relative completeness gap ``(N,)`` where the method promises completeness, else None."""
        return None

    def _int(self, name: str, low: int) -> int:
        value = self.options[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ExplainError(f"{self.name}: {name} must be an integer >= {low}, got {value!r}")
        return int(value)

    def _float(self, name: str, low: float, strict: bool = False) -> float:
        value = self.options[name]
        ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and np.isfinite(value)
        if not ok or value < low or (strict and value == low):
            raise ExplainError(f"{self.name}: {name} must be a number {'>' if strict else '>='} {low}, got {value!r}")
        return float(value)


class Saliency(PixelMethod):
    """Simonyan et al. 2014: the gradient of the target score with respect to the input."""

    def signed(self, ctx: PixelContext) -> np.ndarray:
        return ctx.gradients(ctx.x, ctx.weights)


class SmoothGrad(PixelMethod):
    """Smilkov et al. 2017: the mean gradient over ``samples`` noisy copies of each image.

    Options: ``samples`` (default 25), ``noise`` (standard deviation as a share of each image's
    value range max - min, default 0.15), ``seed`` (default 0). The copies run batched.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"samples": 25, "noise": 0.15, "seed": 0}

    def check(self) -> None:
        self.smooth = SmoothOptions(self._int("samples", 1), self._float("noise", 0.0), self._int("seed", -2**63))

    def signed(self, ctx: PixelContext) -> np.ndarray:
        k = self.smooth.samples
        grads = ctx.gradients(noisy_copies(ctx.x, self.smooth), np.repeat(ctx.weights, k, axis=0))
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


class IntegratedGradients(PixelMethod):
    """Sundararajan et al. 2017: ``(x - x0) * mean_k grad(x0 + a_k (x - x0))``.

    The path integral uses the midpoint rule, ``a_k = (k + 0.5) / steps``, with the path points of
    one image batched. Options: ``steps`` (default 64), ``baseline`` (:data:`BASELINES` or an
    array; default ``"black"``), ``seed`` (the ``noise`` baseline), ``blur_sigma`` (px, the
    ``blur`` baseline, default 5). Completeness: the attributions sum to ``score(x) - score(x0)``
    up to the gap :meth:`completeness` reports.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"steps": 64, "baseline": "black", "seed": 0, "blur_sigma": 5.0}

    def check(self) -> None:
        self._int("steps", 1)
        self._int("seed", -2**63)
        self._float("blur_sigma", 0.0, strict=True)
        b = self.options["baseline"]
        if isinstance(b, str) and b not in BASELINES:
            raise ExplainError(f"{self.name}: unknown baseline {b!r}; choose one of {', '.join(BASELINES)}")

    def baseline(self, x: np.ndarray) -> np.ndarray:
        """The baseline images ``(N, H, W, C)`` of this call."""
        o = self.options
        return baseline_images(x, o["baseline"], int(o["seed"]), float(o["blur_sigma"]))

    def signed(self, ctx: PixelContext) -> np.ndarray:
        steps = int(self.options["steps"])
        x0 = self.baseline(ctx.x)
        alphas = ((np.arange(steps, dtype=np.float32) + 0.5) / steps)[:, None, None, None]
        out = np.empty_like(ctx.x)
        for i in range(len(ctx.x)):
            delta = ctx.x[i] - x0[i]
            path = (x0[i][None] + alphas * delta[None]).astype(np.float32)
            grads = ctx.gradients(path, np.repeat(ctx.weights[i : i + 1], steps, axis=0))
            out[i] = delta * grads.mean(axis=0)
        return out

    def completeness(self, ctx: PixelContext, signed: np.ndarray) -> np.ndarray:
        return relative_gap(signed, ctx.scores(ctx.x, ctx.weights), ctx.scores(self.baseline(ctx.x), ctx.weights))


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


class GuidedGradCAM(PixelMethod):
    """Selvaraju et al. 2017: guided backpropagation times the Grad-CAM of ``layer`` (ReLU'd,
    scaled to [0, 1], upsampled bilinearly to the input). Option ``layer``: default the model's
    deepest Conv2D layer."""

    defaults: ClassVar[Mapping[str, Any]] = {"layer": None}

    def check(self) -> None:
        layer = self.options.get("layer")
        if layer is not None and not isinstance(layer, str):
            raise ExplainError(f"{self.name}: layer must be a layer name, got {layer!r}")

    def layer(self, model: Any) -> str:
        """The layer whose Grad-CAM weighs the guided gradients."""
        from cvd_explorer.models import conv_layers

        layer = self.options.get("layer")
        if layer is not None:
            return str(layer)
        convs = conv_layers(model)
        if not convs:
            raise ExplainError(f"model {model.name!r} has no Conv2D layer; pass layer= to {self.name}")
        return convs[-1]

    def signed(self, ctx: PixelContext) -> np.ndarray:
        from cvd_explorer.explain.engine import compute_cams

        guided = ctx.gradients(ctx.x, ctx.weights, guided=True)
        layer = self.layer(ctx.model)
        cam = compute_cams(ctx.model, ctx.x, [layer], "gradcam", _weights_target(ctx), ctx.batch_size,
                           normalize=True, size="input", classes=ctx.classes)[layer]
        return guided_gradcam(guided, cam)


def guided_gradcam(guided: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """``guided (N, H, W, C) * cam (N, h, w)``: the CAM ReLU'd, scaled to [0, 1] and resized to ``(H, W)``."""
    cam = normalize_maps_in_place(resize_maps(cam, (int(guided.shape[1]), int(guided.shape[2]))))
    out: np.ndarray = (guided * cam[..., None]).astype(np.float32)
    return out


def _weights_target(ctx: PixelContext) -> Any:
    """The context's target as a CAM target: per-image class indices from the weights, or the callable."""
    if ctx.target.fn is not None:
        return ctx.target.fn
    w = ctx.weights
    return (w[:, 0] > 0).astype(np.int64) if w.shape[1] == 1 else np.argmax(w, axis=1).astype(np.int64)


def get_pixel_method(name: str, options: Mapping[str, Any]) -> PixelMethod:
    """The pixel method ``name`` with ``options`` validated.

    Raises:
        ExplainError: unknown name, a method that is not a pixel attribution, an unknown option or bad value.
    """
    spec = method_spec(name)
    cls = spec.load()
    if spec.family != PIXEL or not (isinstance(cls, type) and issubclass(cls, PixelMethod)):
        raise ExplainError(
            f"method {name!r} ({spec.label}) is a layer CAM, not a pixel attribution; use compute_cams"
        )
    return cls(spec, options)
