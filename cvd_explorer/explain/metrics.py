"""Faithfulness and localisation metrics for CAMs, each with a random-map baseline.

* :func:`pointing_game` (Zhang et al. 2016) and :func:`energy_pointing_game` (share of map mass
  inside the mask): localisation against ground-truth masks.
* :func:`deletion_auc` / :func:`insertion_auc` (Petsiuk et al. 2018): pixels replaced by / taken
  from a blurred copy of the image in the order of the map; area under the target-probability
  curve.
* :func:`average_drop` / :func:`increase_in_confidence` (Chattopadhay et al. 2018).
* :func:`randomization_check` (Adebayo et al. 2018): cascading weight randomisation from the head
  down, on a clone (the user's model is never touched), for every method, CAMs and pixel
  attributions alike (:func:`explanation_maps` computes either).

Pass :func:`random_maps` in place of CAMs to score the baseline, so a report always reads
"ours vs random".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import keras
import numpy as np

from cvd_explorer.explain.activations import check_images, head_of
from cvd_explorer.explain.engine import compute_cams, predict_logits
from cvd_explorer.explain.errors import ExplainError
from cvd_explorer.explain.maps import resize_maps
from cvd_explorer.explain.options import Options, build, option
from cvd_explorer.explain.registry import DEFAULT_METHOD, PIXEL, method_spec
from cvd_explorer.explain.targets import Target, resolve_target
from cvd_explorer.models import iter_layers


def random_maps(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """Uniform random maps ``(N, H, W)`` float32 in [0, 1): the baseline for every metric."""
    return np.random.default_rng(seed).random(tuple(shape), dtype=np.float32)


def _resize_to(cams: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    cams = np.asarray(cams, np.float32)
    if cams.ndim != 3:
        raise ExplainError(f"cams must have shape (N, h, w), got {cams.shape}")
    if cams.shape[1:] == tuple(hw):
        return cams
    return resize_maps(cams, hw)


def pointing_hits(cams: np.ndarray, masks: np.ndarray, tolerance_px: int = 15) -> np.ndarray:
    """Per image: does the map's maximum fall on the mask, within ``tolerance_px`` pixels?

    Args:
        cams: ``(N, h, w)`` maps (resized to the masks' size).
        masks: ``(N, H, W)`` ground truth, nonzero = object.
        tolerance_px: radius of the disc the mask is dilated with (15 px in Zhang et al.).

    Returns:
        ``(N,)`` bool. An image with an empty mask counts as a miss.
    """
    masks = np.asarray(masks) > 0
    if masks.ndim != 3 or len(masks) != len(cams):
        raise ExplainError(f"masks must have shape (N, H, W) with N = {len(cams)}, got {masks.shape}")
    cams = _resize_to(cams, masks.shape[1:])
    r = int(tolerance_px)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)) if r > 0 else None
    hits = np.zeros(len(cams), bool)
    for i, (cam, mask) in enumerate(zip(cams, masks, strict=True)):
        zone = cv2.dilate(mask.astype(np.uint8), disc) > 0 if disc is not None else mask
        y, x = np.unravel_index(int(np.argmax(np.nan_to_num(cam, nan=-np.inf))), cam.shape)
        hits[i] = bool(zone[y, x])
    return hits


def pointing_game(cams: np.ndarray, masks: np.ndarray, tolerance_px: int = 15) -> float:
    """Share of images whose map maximum hits the (dilated) mask: :func:`pointing_hits` averaged."""
    return float(pointing_hits(cams, masks, tolerance_px).mean())


def energy_pointing_game(cams: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image, the share of the (ReLU'd) map's mass inside the mask, ``(N,)`` float; 0 for an empty map."""
    masks = np.asarray(masks) > 0
    cams = np.maximum(_resize_to(cams, masks.shape[1:]), 0).astype(np.float64)
    total = cams.sum(axis=(1, 2))
    inside = (cams * masks).sum(axis=(1, 2))
    return np.where(total > 0, inside / np.where(total > 0, total, 1), 0.0)


ClassTarget = str | int
"""``"predicted"``, a class name or a class index (metrics need a class, not a callable)."""


def target_probability(
    model: keras.Model,
    images: Any,
    target: ClassTarget = "predicted",
    classes: Sequence[str] | None = None,
    batch_size: int = 32,
    reference: Any = None,
) -> np.ndarray:
    """Probability of the target class for each image ``(N,)`` float64.

    ``"predicted"`` is the class predicted on ``reference`` (default: ``images`` themselves).
    """
    x = check_images(model, images)
    head = head_of(model)
    tgt = _class_target(target, head.units, len(x), classes)
    logits = predict_logits(model, x, batch_size).astype(np.float64)
    ref = logits if reference is None or tgt.kind != "predicted" else predict_logits(model, reference, batch_size)
    w = tgt.resolved(ref).weights(head.units, len(x))
    probs: np.ndarray
    if head.units == 1:
        probs = 1.0 / (1.0 + np.exp(-(logits[:, 0] * w[:, 0])))
    else:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = (e / e.sum(axis=1, keepdims=True) * w).sum(axis=1)
    return probs


def _class_target(target: Any, units: int, n: int, classes: Sequence[str] | None) -> Target:
    tgt = resolve_target(target, units, n, classes)
    if tgt.kind == "callable":
        raise ExplainError("metrics need a class target ('predicted', a class name or index), not a callable")
    return tgt


def _blurred(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(img, (0, 0), sigma) for img in x])


@dataclass(frozen=True)
class ScoreOptions(Options):
    """Which probability the map-based metrics read (typed, checked on construction).

    Attributes:
        target: ``"predicted"`` (on the intact image), a class name or index.
        classes: class names in index order (default ``("cat", "dog")``).
        batch_size: images per forward pass.
    """

    target: Any = "predicted"
    classes: Sequence[str] | None = None
    batch_size: int = option(32, low=1)


@dataclass(frozen=True)
class CurveOptions(ScoreOptions):
    """The settings of :func:`deletion_auc` and :func:`insertion_auc`: those of :class:`ScoreOptions` and

    Attributes:
        steps: number of increments, at least 1; ``steps + 1`` images per sample, batched.
        blur_sigma: the Gaussian blur (px) of the canvas the pixels are replaced by / taken from.
    """

    steps: int = option(20, low=1)
    blur_sigma: float = option(5.0, above=0.0)


def _curve_auc(model: Any, images: Any, cams: np.ndarray, o: CurveOptions, insert: bool) -> np.ndarray:
    x = check_images(model, images)
    n, H, W, _ = x.shape
    cams = _resize_to(cams, (H, W))
    canvas = _blurred(x, o.blur_sigma)
    steps = int(o.steps)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    aucs = np.zeros(n)
    for i in range(n):
        order = np.argsort(-cams[i].ravel(), kind="stable")
        variants = np.empty((steps + 1, H, W, x.shape[-1]), np.float32)
        for s, frac in enumerate(fractions):
            chosen = np.zeros(H * W, bool)
            chosen[order[: int(round(frac * H * W))]] = True
            chosen = chosen.reshape(H, W, 1)
            kept, replaced = (x[i], canvas[i]) if insert else (canvas[i], x[i])
            variants[s] = np.where(chosen, kept, replaced)
        reference = np.repeat(x[i : i + 1], steps + 1, 0)
        probs = target_probability(model, variants, o.target, o.classes, o.batch_size, reference=reference)
        aucs[i] = float(np.sum((probs[1:] + probs[:-1]) / 2) / steps)
    return aucs


def deletion_auc(model: Any, images: Any, cams: np.ndarray, **options: Any) -> np.ndarray:
    """Petsiuk et al.'s deletion metric: lower is better.

    The most important pixels (by ``cams``) are replaced by a Gaussian-blurred copy of the image
    in ``steps`` equal increments; the area under the target-probability curve over the fraction
    removed (trapezoid rule on [0, 1]).

    Args:
        model: the classifier. images: ``(N, H, W, 3)`` as the model expects. cams: ``(N, h, w)``.
        **options: the fields of :class:`CurveOptions` (``target``, ``classes``, ``steps=20``,
            ``batch_size=32``, ``blur_sigma=5.0``).

    Returns:
        ``(N,)`` float AUCs in [0, 1].
    """
    return _curve_auc(model, images, cams, build(CurveOptions, "deletion_auc", options), insert=False)


def insertion_auc(model: Any, images: Any, cams: np.ndarray, **options: Any) -> np.ndarray:
    """Petsiuk et al.'s insertion metric (higher is better): pixels move from the image onto a
    blurred canvas in order of importance. Arguments and return as :func:`deletion_auc`."""
    return _curve_auc(model, images, cams, build(CurveOptions, "insertion_auc", options), insert=True)


def _explanation_map_probs(model: Any, images: Any, cams: np.ndarray, o: ScoreOptions) -> tuple[np.ndarray, np.ndarray]:
    x = check_images(model, images)
    cams = np.clip(_resize_to(cams, x.shape[1:3]), 0, 1)
    y = target_probability(model, x, o.target, o.classes, o.batch_size)
    masked = target_probability(model, x * cams[..., None], o.target, o.classes, o.batch_size, reference=x)
    return y, masked


def average_drop(model: Any, images: Any, cams: np.ndarray, **options: Any) -> float:
    """Grad-CAM++'s Average Drop %: ``100 * mean(max(0, Y - O) / Y)``, Y the target probability of
    the image, O that of the image multiplied by its map (``cams`` in [0, 1]). Lower is better.
    ``options``: the fields of :class:`ScoreOptions` (``target``, ``classes``, ``batch_size``)."""
    y, o = _explanation_map_probs(model, images, cams, build(ScoreOptions, "average_drop", options))
    return float(100.0 * np.mean(np.maximum(0.0, y - o) / np.maximum(y, 1e-12)))


def increase_in_confidence(model: Any, images: Any, cams: np.ndarray, **options: Any) -> float:
    """Grad-CAM++'s Increase in Confidence %: share of images where ``O > Y``. Higher is better.
    Arguments as :func:`average_drop`."""
    y, o = _explanation_map_probs(model, images, cams, build(ScoreOptions, "increase_in_confidence", options))
    return float(100.0 * np.mean(o > y))


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two arrays (ties get average ranks); 0 if either is constant."""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    first = np.r_[True, sorted_v[1:] != sorted_v[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(v)]
    avg = (starts + ends - 1) / 2.0
    ranks = np.empty(len(v))
    ranks[order] = avg[group]
    return ranks


def explanation_maps(
    model: keras.Model,
    images: Any,
    method: str,
    layer: str | None,
    target: Any = "predicted",
    classes: Sequence[str] | None = None,
    size: str = "input",
    **options: Any,
) -> np.ndarray:
    """The normalised maps ``(N, h, w)`` float32 in [0, 1] of any registered method.

    A CAM gives the map of ``layer``; a pixel attribution gives its input-size map (``layer``
    only for guided Grad-CAM, whose Grad-CAM it names; None: the deepest conv layer). ``size``:
    ``"input"`` or ``"native"`` (the CAM's layer resolution; pixel maps are always at the input).
    ``options`` are the method's (``batch_size=``, ``steps=``, ``samples=``, ...).
    """
    spec = method_spec(method)
    if spec.family == PIXEL:
        from cvd_explorer.explain.attributions import attribute

        if spec.uses_layer and layer is not None:
            options = {"layer": layer, **options}
        return attribute(model, images, method, target, classes=classes, **options)
    if layer is None:
        raise ExplainError(f"{method} maps a layer; pass its name")
    return compute_cams(model, images, [layer], method, target, size=size, classes=classes, **options)[layer]


def _cascade_groups(model: keras.Model) -> list[tuple[str, list[keras.layers.Layer]]]:
    """Layers with weights grouped by residual block (``convN_blockM``), from the head down."""
    groups: dict[str, list[keras.layers.Layer]] = {}
    for layer in iter_layers(model):
        if not layer.weights:
            continue
        m = re.match(r"^(conv\d+_block\d+)_", layer.name)
        groups.setdefault(m.group(1) if m else layer.name, []).append(layer)
    return list(reversed(groups.items()))


def _randomize(layer: keras.layers.Layer, rng: np.random.Generator) -> None:
    """Re-draw a (cloned) layer's kernels from N(0, std of the trained kernel); permute 1-D weights
    (bias, BN gamma/beta) so their distribution stays and their meaning goes; keep BN moving stats."""
    for var in layer.weights:
        if "moving" in var.path:
            continue
        w = np.asarray(var.numpy())
        if w.ndim >= 2:
            std = float(w.std()) or float(np.sqrt(2.0 / max(1, int(np.prod(w.shape[:-1])))))
            new = rng.normal(0.0, std, w.shape)
        else:
            new = rng.permutation(w.ravel()).reshape(w.shape)
        var.assign(new.astype(w.dtype))


@dataclass(frozen=True)
class CascadeOptions(Options):
    """How far :func:`randomization_check` goes.

    Attributes:
        max_steps: stop after this many groups (None: all).
        seed: random seed of the re-drawn weights.
    """

    max_steps: int | None = option(None, low=0)
    seed: int = 0


def randomization_check(
    model: keras.Model,
    images: Any,
    layer: str,
    method: str = DEFAULT_METHOD,
    target: ClassTarget = "predicted",
    *,
    classes: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
    **cascade: Any,
) -> list[dict[str, Any]]:
    """Adebayo et al.'s cascading model-parameter randomisation test.

    Weights are randomised group by group (the head, then each residual block from the top down,
    then the stem) on a clone of ``model``; after each step the maps are compared with the trained
    model's by Spearman rank correlation. Faithful maps decorrelate.

    One clone is made; the trained maps are computed on it before its first randomisation and every
    step then re-assigns its variables in place, so the whole cascade runs one traced step per
    method (the weights are inputs of that step, not constants of a new one).

    Args:
        model: the trained model (not modified: a clone gets the random weights).
        images: ``(N, H, W, 3)`` as the model expects.
        layer: layer whose maps are compared (a CAM's, at native resolution, normalised); pixel
            attributions are compared at the input size and ignore it (except guided Grad-CAM,
            whose Grad-CAM it names).
        method: any registered method (CAMs and pixel attributions).
        target, classes: as in :func:`~cvd_explorer.explain.compute_cams`; with ``"predicted"``
            every step explains the class the *trained* model predicts.
        options: the method's options (e.g. ``{"steps": 32}``, ``{"batch_size": 8}``).
        **cascade: the fields of :class:`CascadeOptions` (``max_steps``, ``seed``).

    Returns:
        One dict per step: ``{"step", "randomized": group name, "spearman": [per image],
        "spearman_median", "baseline_median"}``; ``baseline_median`` is the median Spearman of the
        trained maps with random maps (the floor to compare with). Step 0 is the trained model itself.
    """
    settings = build(CascadeOptions, "randomization_check", cascade)
    x = check_images(model, images)
    method_spec(method)  # an unknown method fails before the clone is made
    # the trained model's prediction, explained on every randomized model too
    tgt = _class_target(target, head_of(model).units, len(x), classes)
    tgt = tgt.resolved(predict_logits(model, x)) if tgt.kind == "predicted" else tgt
    seed, max_steps = settings.seed, settings.max_steps

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())

    def maps_of(m: Any) -> np.ndarray:
        return explanation_maps(m, x, method, layer, tgt, classes, size="native", **(options or {}))

    trained = maps_of(clone)
    baseline = [rank_correlation(t, r) for t, r in zip(trained, random_maps(trained.shape, seed + 1), strict=True)]
    rng = np.random.default_rng(seed)
    groups = _cascade_groups(clone)[: max_steps if max_steps is not None else None]
    steps = []
    for step, (name, layers) in enumerate([("none", [])] + groups):
        for lyr in layers:
            _randomize(lyr, rng)
        maps = trained if step == 0 else maps_of(clone)
        rho = [rank_correlation(t, m) for t, m in zip(trained, maps, strict=True)]
        steps.append(
            {
                "step": step,
                "randomized": name,
                "spearman": rho,
                "spearman_median": float(np.median(rho)),
                "baseline_median": float(np.median(baseline)),
            }
        )
    return steps
