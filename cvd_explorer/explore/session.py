"""``Session``: a model, its sample table and a bounded per-sample cache of explanations.

The Explorer widget is a view over a Session; the benchmark drives one directly. A sample is
explained once, every layer of the selected kind in one engine pass
(:func:`cvd_explorer.explain.explain_all`), and kept in an LRU cache so that moving through
layers, channels or opacity only composes arrays.

Pixel attributions (registry family ``pixel``) are cached per sample and method, not per layer
(``MethodSpec.uses_layer`` is False): the map is the same at every layer, while the feature-map
grid still shows the selected layer (its activations come with Grad-CAM's pass, shared with the
Grad-CAM entry of the cache). Guided Grad-CAM uses the layer: its guided gradients are computed
once per sample and multiplied by each layer's Grad-CAM when the slider moves.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.explain.maps import normalize_maps_in_place
from cvd_explorer.explain.registry import DEFAULT_METHOD, PIXEL, method_spec
from cvd_explorer.explore.cache import LRUCache
from cvd_explorer.explore.samples import SampleRow, rows_from_arrays, rows_from_predictions

if TYPE_CHECKING:
    from cvd_explorer.explain.attributions import PixelExplanation
    from cvd_explorer.explain.engine import Explanation

LAYER_EVIDENCE = "gradcam"
"""The CAM whose pass gives pixel methods their layers' activations (and guided Grad-CAM its CAMs)."""
GUIDED = "guided-backprop"

TRUE_CLASS = "true class"
"""The target that explains each image's own label (resolved to that class name per sample)."""
PREDICTED = "predicted"

CacheKey = tuple[str, str, str, str, str | None]
"""``(sample key, method, target (``"predicted"`` or a class name), layer kind, layer or None)``."""


@dataclass
class SampleExplanation:
    """What the views of one sample need, computed once.

    Attributes:
        row: the sample.
        image: uint8 ``(S, S, 3)``, the model's input pixels.
        explanation: the engine's :class:`~cvd_explorer.explain.Explanation` for this one image
            (arrays with a leading batch axis of 1).
        method: CAM method.
        target: ``"predicted"`` or a class name (``"true class"`` is resolved to the label before).
        kind: ``"conv"`` or ``"blocks"``.
        pixel: for a pixel method, its attribution of this image (guided Grad-CAM: the guided
            backprop part); ``explanation`` is then Grad-CAM's (activations and per-layer CAMs).
    """

    row: SampleRow
    image: np.ndarray
    explanation: Explanation
    method: str
    target: str
    kind: str
    pixel: PixelExplanation | None = None

    @property
    def is_pixel(self) -> bool:
        """Whether the maps are a pixel attribution (the layer slider moves only the feature maps)."""
        return self.pixel is not None

    @property
    def uses_layer(self) -> bool:
        """Whether the map changes with the layer (every CAM, guided Grad-CAM)."""
        return method_spec(self.method).uses_layer

    @property
    def completeness_gap(self) -> float | None:
        """Integrated gradients' relative completeness gap for this image, else None."""
        gap = None if self.pixel is None else self.pixel.completeness_gap
        return None if gap is None else float(gap[0])

    def attribution(self, layer: str) -> np.ndarray | None:
        """Signed float32 ``(H, W, 3)`` attribution of a pixel method (at ``layer`` for guided Grad-CAM), else None."""
        if self.pixel is None:
            return None
        signed: np.ndarray = self.pixel.attributions[0]
        if self.uses_layer:
            from cvd_explorer.explain.pixel import guided_gradcam

            signed = guided_gradcam(self.pixel.attributions, self.explanation.cams[layer])[0]
        return signed

    @property
    def target_class(self) -> str:
        """The class whose evidence the maps show: the target, or the predicted class for ``"predicted"``."""
        return self.row.predicted if self.target == "predicted" else self.target

    def has_evidence(self, layer: str) -> bool:
        """Whether the CAM of ``layer`` has any positive value (False: all zero after the ReLU,
        no positive evidence for :attr:`target_class` there)."""
        return bool(np.any(self.cam(layer) > 0))

    @property
    def layers(self) -> tuple[str, ...]:
        """Layers explained, in depth order."""
        return tuple(self.explanation.layers)

    def activations(self, layer: str) -> np.ndarray:
        """float32 ``(h, w, C)`` feature maps of ``layer``."""
        acts: np.ndarray = self.explanation.activations[layer][0]
        return acts

    def cam(self, layer: str) -> np.ndarray:
        """float32 ``(h, w)`` CAM of ``layer`` at native resolution, ReLU'd and scaled to [0, 1]; for a
        pixel method its ``(H, W)`` map at the input size (the same at every layer but for guided Grad-CAM)."""
        if self.pixel is not None:
            if self.uses_layer:
                signed = self.attribution(layer)
                return normalize_map(np.abs(np.asarray(signed)).max(axis=-1))
            pixel_map: np.ndarray = self.pixel.maps[0]
            return pixel_map
        return normalize_map(self.explanation.cams[layer][0])

    def channel_weights(self, layer: str) -> np.ndarray:
        """float32 ``(C,)`` per-channel weights of the CAM method at ``layer``."""
        weights: np.ndarray = self.explanation.channel_weights[layer][0]
        return weights

    def nbytes(self) -> int:
        """Approximate memory held by the arrays, in bytes."""
        e = self.explanation
        parts = [*e.activations.values(), *e.cams.values(), *e.channel_weights.values(), self.image]
        if self.pixel is not None:
            parts += [self.pixel.attributions, self.pixel.maps]
        return int(sum(np.asarray(p).nbytes for p in parts))


def normalize_map(cam: np.ndarray) -> np.ndarray:
    """ReLU then divide by the maximum; an all-zero (or non-finite) map gives zeros. float32 ``(h, w)``."""
    finite = np.nan_to_num(np.asarray(cam, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    scaled: np.ndarray = normalize_maps_in_place(finite[None])[0]
    return scaled


class Session:
    """A model with its samples, an image loader and the explanation cache.

    Args:
        model: a built Keras model mapping RGB 0-255 ``(N, S, S, 3)`` to P(positive) ``(N, 1)`` for two
            classes, or to the K class probabilities ``(N, K)``.
        rows: the sample table.
        classes: the K class names in index order (for two classes ``(negative, positive)``).
        load: returns the uint8 ``(S, S, 3)`` pixels of a row; may raise
            :class:`~cvd_explorer.data.loader.ImageLoadError`.
        cache_size: samples kept in the explanation cache.
        source: short text naming where the samples come from (shown in the panel).
    """

    def __init__(
        self,
        model: Any,
        rows: Sequence[SampleRow],
        classes: Sequence[str],
        load: Callable[[SampleRow], np.ndarray],
        cache_size: int = 8,
        source: str = "",
    ) -> None:
        from cvd_explorer.models import block_outputs, conv_layers

        self.model = model
        self.rows = list(rows)
        self.classes = tuple(str(c) for c in classes)
        if len(self.classes) < 2:
            raise ValueError(f"a classifier has at least 2 classes, got {list(self.classes)}")
        self._load = load
        self.source = source
        self.cache: LRUCache[SampleExplanation] = LRUCache(cache_size)
        self.layer_sets = {"conv": tuple(conv_layers(model)), "blocks": tuple(block_outputs(model))}
        self._shapes: dict[str, tuple[int, ...] | None] = {}
        self._by_key = {r.key: r for r in self.rows}
        self._lock = threading.Lock()  # one engine call at a time
        self.pixel_options: dict[str, dict[str, Any]] = {}
        """Options of pixel methods by name (e.g. ``{"integrated-gradients": {"steps": 128}}``); defaults otherwise."""

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_run(cls, run: Any, cache_size: int = 8) -> Session:
        """Open a :class:`~cvd_explorer.runs.Run` with predictions.

        Raises:
            RunError: the run has no predictions yet, or no model.
        """
        from cvd_explorer.data.loader import load_image
        from cvd_explorer.errors import RunError

        predictions = run.predictions
        if predictions is None:
            state = run.state
            if state == "running":
                status = run.status
                raise RunError(
                    f"training in progress (epoch {status.get('epoch', '?')}/{status.get('epochs', '?')}): "
                    f"{run.path} has no predictions yet; they are written when training ends"
                )
            raise RunError(f"no predictions yet: run `cvd-explorer evaluate {run.path}`")
        model = run.load_model()
        size = int(run.config.image_size)
        return cls(
            model,
            rows_from_predictions(predictions),
            tuple(run.classes),
            lambda row: load_image(row.key, size=(size, size)),
            cache_size=cache_size,
            source=f"run {run.name} ({run.config.arch}, {size} px)",
        )

    @classmethod
    def from_arrays(
        cls,
        model: Any,
        images: Any,
        labels: Sequence[Any] | None = None,
        paths: Sequence[str | os.PathLike[str]] | None = None,
        classes: Sequence[str] = ("cat", "dog"),
        cache_size: int = 8,
    ) -> Session:
        """Samples given as arrays: ``images`` float or uint8 ``(N, S, S, 3)`` RGB 0-255.

        Predictions are computed here with ``model.predict`` (one sigmoid unit: P(``classes[1]``);
        K > 2 classes: K probabilities); ``labels`` are class names or indices 0..K-1 (for two
        classes 1 = ``classes[1]``); ``paths`` name the samples.
        """
        x = np.asarray(images)
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"images must have shape (N, H, W, 3), got {x.shape}")
        out = np.asarray(model.predict(x.astype(np.float32), batch_size=32, verbose=0), dtype=np.float64)
        if len(classes) > 2:
            probs = out.reshape(len(x), -1)
        else:
            probs = out[:, -1] if out.ndim == 2 and out.shape[1] == 2 else out.reshape(len(x), -1)[:, 0]
        keys = None if paths is None else [os.fspath(p) for p in paths]
        rows = rows_from_arrays(probs, classes, labels, keys)
        pixels = np.clip(x, 0, 255).astype(np.uint8) if x.dtype != np.uint8 else x
        return cls(model, rows, classes, lambda row: pixels[row.index], cache_size, f"{len(x)} images")

    # ----------------------------------------------------------------- queries
    def row(self, key: str) -> SampleRow:
        """The row whose key (path or name) is ``key``; KeyError otherwise."""
        if key in self._by_key:
            return self._by_key[key]
        matches = [r for r in self.rows if r.name == key]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"no sample {key!r}")

    def image(self, row: SampleRow) -> np.ndarray:
        """uint8 ``(S, S, 3)`` pixels of ``row`` (raises ImageLoadError for a broken file)."""
        return self._load(row)

    def layer_shape(self, layer: str) -> tuple[int, ...] | None:
        """``(h, w, C)`` output shape of ``layer`` for this model's input size, if static."""
        if layer not in self._shapes:
            from cvd_explorer.models import find_layer

            try:
                shape = tuple(find_layer(self.model, layer)[0].output.shape[1:])
                self._shapes[layer] = shape if all(isinstance(d, int) for d in shape) else None
            except Exception:  # layer reused or without a single output: the label omits the shape
                self._shapes[layer] = None
        return self._shapes[layer]

    @staticmethod
    def target_of(row: SampleRow, target: str) -> str:
        """The target explained for ``row``: ``"true class"`` becomes its label; anything else stays.

        Raises:
            ValueError: ``"true class"`` for a sample without a label.
        """
        if target != TRUE_CLASS:
            return target
        if row.label is None:
            raise ValueError(f"{row.name} has no true class (no label was given): choose 'predicted' or a class")
        return row.label

    @staticmethod
    def cache_key(row: SampleRow, method: str, target: str, kind: str, layer: str | None) -> CacheKey:
        """Cache key of one explanation (the layer matters only for per-layer methods; pixel methods
        are cached per sample and method; ``"true class"`` shares the entry of the label's name)."""
        return (row.key, method, Session.target_of(row, target), kind, layer if method_spec(method).per_layer else None)

    def top_classes(self, row: SampleRow, k: int = 3) -> list[tuple[str, float]]:
        """The ``min(k, K)`` most probable classes of ``row`` with their probabilities, most probable first."""
        return row.top(self.classes, k)

    def cached(
        self, row: SampleRow, method: str, target: str, kind: str, layer: str | None = None
    ) -> SampleExplanation | None:
        """The cached explanation, or None (never computes)."""
        return self.cache.get(self.cache_key(row, method, target, kind, layer))

    def explain(
        self, row: SampleRow, method: str = DEFAULT_METHOD, target: str = "predicted", kind: str = "conv",
        layer: str | None = None,
    ) -> SampleExplanation:
        """Explain ``row`` at every layer of ``kind`` in one engine pass (cached).

        Per-layer methods (Score-CAM) explain only ``layer``.

        Raises:
            ImageLoadError: the image cannot be loaded.
            ExplainError: the model has no layer of that kind, or the engine refuses the input.
        """
        from cvd_explorer.explain import explain_all

        target = self.target_of(row, target)
        key = self.cache_key(row, method, target, kind, layer)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        spec = method_spec(method)
        if spec.family == PIXEL:
            return self._explain_pixels(row, method, target, kind, key)
        layers = self._layers(method, kind, layer)
        image = self.image(row)
        with self._lock:
            expl = explain_all(
                self.model, image[None].astype(np.float32), layers=list(layers), method=method, target=target,
                classes=self.classes,
            )
        result = SampleExplanation(row, image, expl, method, target, kind)
        self.cache.put(key, result)
        return result

    def _explain_pixels(self, row: SampleRow, method: str, target: str, kind: str, key: CacheKey) -> SampleExplanation:
        from cvd_explorer.explain.attributions import explain_pixels

        base = self.explain(row, LAYER_EVIDENCE, target, kind)  # the layers' activations (cached on its own)
        computed = GUIDED if method_spec(method).uses_layer else method
        with self._lock:
            pixel = explain_pixels(self.model, base.image[None].astype(np.float32), computed, target,
                                   classes=self.classes, **self.pixel_options.get(computed, {}))
        result = SampleExplanation(row, base.image, base.explanation, method, target, kind, pixel)
        self.cache.put(key, result)
        return result

    def _layers(self, method: str, kind: str, layer: str | None) -> tuple[str, ...]:
        """The layers one explanation of ``method`` covers: every layer of ``kind``, or ``layer`` alone for a
        per-layer method (Score-CAM)."""
        from cvd_explorer.explain import ExplainError

        layers = self.layer_sets.get(kind)
        if not layers:
            what = "Conv2D layers" if kind == "conv" else "residual block outputs (convN_blockM_out)"
            raise ExplainError(f"model {self.model.name!r} has no {what} to explain")
        if method_spec(method).per_layer:
            if layer is None or layer not in layers:
                raise ExplainError(f"{method} explains one layer at a time; choose one of the {kind} layers")
            return (layer,)
        return tuple(layers)

    def explain_classes(
        self, row: SampleRow, method: str, names: Sequence[str], kind: str = "conv", layer: str | None = None
    ) -> list[SampleExplanation]:
        """Explain ``row`` for each class of ``names`` (the "top 3" view), one explanation per class, cached
        as if each class had been the target (a later pick of that class is a cache hit).

        The classes not cached yet are explained in one engine pass over copies of the image (one class
        per copy); pixel methods explain one class after the other.
        """
        from cvd_explorer.explain import explain_all

        names = [str(n) for n in names]
        found = {n: self.cached(row, method, n, kind, layer) for n in names}
        missing = [n for n, hit in found.items() if hit is None]
        if missing and method_spec(method).family == PIXEL:
            for n in missing:
                found[n] = self.explain(row, method, n, kind, layer)
        elif missing:
            unknown = [n for n in missing if n not in self.classes]
            if unknown:
                raise ValueError(f"unknown class {unknown[0]!r}; classes: {', '.join(self.classes)}")
            layers = self._layers(method, kind, layer)
            image = self.image(row)
            batch = np.repeat(image[None].astype(np.float32), len(missing), axis=0)
            with self._lock:
                expl = explain_all(self.model, batch, layers=list(layers), method=method,
                                   target=[self.classes.index(n) for n in missing], classes=self.classes)
            shared = {name: np.ascontiguousarray(a[:1]) for name, a in expl.activations.items()}
            for i, n in enumerate(missing):
                one = replace(expl, activations=shared, cams={k: v[i : i + 1].copy() for k, v in expl.cams.items()},
                              channel_weights={k: v[i : i + 1].copy() for k, v in expl.channel_weights.items()},
                              logits=expl.logits[i : i + 1], probs=expl.probs[i : i + 1])
                found[n] = made = SampleExplanation(row, image, one, method, n, kind)
                self.cache.put(self.cache_key(row, method, n, kind, layer), made)
        return [hit for n in names if (hit := found[n]) is not None]
