"""The Atlas panel's table and figures, without widgets: one point per image of the atlas.

The panel (:mod:`cvd_explorer.widgets.atlas`) shows these points as a scatter and links them to
the Explorer by their sample key (the absolute image path, as in the Explorer's gallery). Here:
the points in plot order with their colour category, confidence and triage flags; the triage
filters and the label-issue sort; confusion-matrix cells as lists of keys; the depth curves as
plot series; the mean maps per (class x correct / misclassified) at one block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# true class -> (colour of its correct images, colour of its misclassified images)
CLASS_COLOURS = (("#7fb3e0", "#08306b"), ("#f9c48a", "#a63603"))
MISCLASSIFIED = "misclassified"
TRIAGE_FILTERS = ("all", "misclassified", "suspected label error", "copy in another split", "has a verdict",
                  "no verdict")
TRIAGE_SORTS = ("plot order", "label-issue score", "loss", "confidence")
DEPTH_CURVES = {
    "agreement_with_last": "agreement with the deepest layer (Pearson)",
    "mass_in_mask": "share of the map's mass inside the object mask",
    "concentration": "share of mass in the top 10% of cells",
    "pointing_game": "pointing game hit rate",
    "blank_share": "share of all-zero maps",
}


@dataclass(frozen=True)
class AtlasPoint:
    """One image of the atlas as the panel shows it.

    Attributes:
        index: position in plot order (row of the atlas).
        key: the Explorer's sample key (absolute image path).
        path: path relative to the data folder, as in the manifest.
        name: file name.
        label: true class; prediction: predicted class.
        p: P(positive class); confidence: probability of the predicted class.
        loss: per-image binary cross-entropy.
        correct: prediction equals the label.
        x, y: embedding coordinates in [0, 1].
        group: duplicate group id, "" when the image has no copy.
        label_score: cleanlab's label-quality score (lower is more suspicious).
        suspect: among cleanlab's suspected label errors.
        copy_elsewhere: its duplicate group has images in another split of the run's manifest.
        category: colour category, e.g. ``"cat"`` or ``"cat · misclassified"``.
    """

    index: int
    key: str
    path: str
    name: str
    label: str
    prediction: str
    p: float
    confidence: float
    loss: float
    correct: bool
    x: float
    y: float
    group: str
    label_score: float
    suspect: bool
    copy_elsewhere: bool
    category: str


def category(label: str, correct: bool) -> str:
    """Colour category of an image: its true class, marked when misclassified."""
    return label if correct else f"{label} · {MISCLASSIFIED}"


def categories(classes: Sequence[str]) -> dict[str, str]:
    """``{category: colour}`` for every class, correct and misclassified (legend order)."""
    out: dict[str, str] = {}
    for k, name in enumerate(classes):
        light, dark = CLASS_COLOURS[k % len(CLASS_COLOURS)]
        out[category(name, True)] = light
        out[category(name, False)] = dark
    return out


def shared_groups(manifest_rows: Iterable[Any]) -> set[str]:
    """Duplicate groups whose images lie in more than one split (rows with ``group`` and ``split``)."""
    splits: dict[str, set[str]] = {}
    for row in manifest_rows:
        group = str(getattr(row, "group", "") or "")
        if group:
            splits.setdefault(group, set()).add(str(row.split))
    return {g for g, s in splits.items() if len(s) > 1}


def atlas_points(rows: Sequence[Any], key_of: Callable[[str], str], shared: set[str]) -> list[AtlasPoint]:
    """The points of the atlas rows (:class:`~cvd_explorer.atlas.AtlasRow`) in plot order.

    Args:
        rows: atlas rows with ``path, label, prediction, p, loss, correct, x, y, group, label_score, suspect``.
        key_of: maps a manifest path to the Explorer's sample key.
        shared: duplicate groups present in more than one split (:func:`shared_groups`).
    """
    points = []
    for i, r in enumerate(rows):
        p = float(r.p)
        points.append(AtlasPoint(
            index=i, key=key_of(r.path), path=r.path, name=r.path.rpartition("/")[2], label=r.label,
            prediction=r.prediction, p=p, confidence=max(p, 1.0 - p), loss=float(r.loss), correct=bool(r.correct),
            x=float(r.x), y=float(r.y), group=r.group, label_score=float(r.label_score), suspect=bool(r.suspect),
            copy_elsewhere=bool(r.group) and r.group in shared, category=category(r.label, bool(r.correct)),
        ))
    return points


def flags(point: AtlasPoint, verdict: str | None = None) -> list[str]:
    """Short triage flags of a point (for badges and tooltips)."""
    out = []
    if not point.correct:
        out.append("✗ misclassified")
    if point.suspect:
        out.append("⚑ suspected label error")
    if point.copy_elsewhere:
        out.append("⧉ copy in another split")
    if verdict:
        out.append(f"verdict: {verdict}")
    return out


def badge_text(point: AtlasPoint, verdict: str | None = None) -> str:
    """One line describing a point: name, classes, confidence and flags."""
    head = f"{point.name} · true {point.label} → {point.prediction} ({point.confidence:.0%})"
    return " · ".join([head, *flags(point, verdict)])


def triage(
    points: Sequence[AtlasPoint], what: str = "all", sort: str = "plot order",
    verdicts: Mapping[str, str] | None = None,
) -> list[AtlasPoint]:
    """Points passing a triage filter, in the chosen order.

    Args:
        points: the atlas points.
        what: one of :data:`TRIAGE_FILTERS`.
        sort: one of :data:`TRIAGE_SORTS`; "label-issue score" puts the most suspicious first,
            "loss" and "confidence" the highest first.
        verdicts: ``{manifest path: verdict}`` for "has a verdict" / "no verdict".
    """
    if what not in TRIAGE_FILTERS:
        raise ValueError(f"triage filter must be one of {TRIAGE_FILTERS}, got {what!r}")
    if sort not in TRIAGE_SORTS:
        raise ValueError(f"triage sort must be one of {TRIAGE_SORTS}, got {sort!r}")
    judged = verdicts or {}
    keep: dict[str, Callable[[AtlasPoint], bool]] = {
        "all": lambda p: True,
        "misclassified": lambda p: not p.correct,
        "suspected label error": lambda p: p.suspect,
        "copy in another split": lambda p: p.copy_elsewhere,
        "has a verdict": lambda p: p.path in judged,
        "no verdict": lambda p: p.path not in judged,
    }
    kept = [p for p in points if keep[what](p)]
    if sort == "label-issue score":
        kept.sort(key=lambda p: (_finite_or(p.label_score, math.inf), p.index))
    elif sort == "loss":
        kept.sort(key=lambda p: (-_finite_or(p.loss, -math.inf), p.index))
    elif sort == "confidence":
        kept.sort(key=lambda p: (-p.confidence, p.index))
    return kept


def _finite_or(value: float, default: float) -> float:
    return value if math.isfinite(value) else default


def confusion_cells(points: Sequence[AtlasPoint], classes: Sequence[str]) -> dict[tuple[str, str], list[str]]:
    """``{(true class, predicted class): [keys in plot order]}`` for every pair of classes."""
    cells: dict[tuple[str, str], list[str]] = {(t, p): [] for t in classes for p in classes}
    for point in points:
        cells.setdefault((point.label, point.prediction), []).append(point.key)
    return cells


@dataclass(frozen=True)
class DepthSeries:
    """One depth curve: per layer the mean and its 95% interval (None where undefined).

    Attributes:
        name: e.g. ``"correct"`` or ``"cat · misclassified"``.
        means: ``[L]`` floats or None.
        lows, highs: ``[L]`` interval bounds or None.
        counts: ``[L]`` images each mean stands on (empty when unknown).
    """

    name: str
    means: list[float | None]
    lows: list[float | None]
    highs: list[float | None]
    counts: list[int]


def depth_series(depth: Mapping[str, Any], curve: str, by_class: bool = False) -> list[DepthSeries]:
    """The series of one curve of the atlas summary's ``"depth"`` object.

    Args:
        depth: ``summary["depth"]`` (:func:`cvd_explorer.atlas.depth.depth_curves`).
        curve: a key of :data:`DEPTH_CURVES`; absent curves (no masks) give ``[]``.
        by_class: one series per (class, correct / misclassified) instead of two overall.
    """
    if curve not in depth:
        return []
    intervals = depth.get("intervals", {})
    counts = depth.get("n", {})
    if not by_class:
        sources = [("", depth[curve], intervals.get(curve, {}), counts.get(curve, {}))]
    else:
        sources = [
            (f"{name} · ", per[curve], intervals.get("by_class", {}).get(name, {}).get(curve, {}),
             counts.get("by_class", {}).get(name, {}).get(curve, {}))
            for name, per in depth.get("by_class", {}).items() if curve in per
        ]
    out = []
    for prefix, means, ints, ns in sources:
        for group in ("correct", MISCLASSIFIED):
            values = list(means.get(group, []))
            bounds = list(ints.get(group) or [None] * len(values))
            out.append(DepthSeries(
                name=f"{prefix}{group}",
                means=[None if v is None else float(v) for v in values],
                lows=[None if b is None else float(b[0]) for b in bounds],
                highs=[None if b is None else float(b[1]) for b in bounds],
                counts=[int(n) for n in ns.get(group, [])],
            ))
    return out


def available_curves(depth: Mapping[str, Any]) -> list[str]:
    """The curves of :data:`DEPTH_CURVES` present in a ``"depth"`` object, in that order."""
    return [c for c in DEPTH_CURVES if c in depth]


def mean_cam_groups(classes: Sequence[str]) -> list[str]:
    """The four mean-map groups, ``"<class>/correct"`` and ``"<class>/misclassified"`` per class."""
    return [f"{c}/{kind}" for c in classes for kind in ("correct", MISCLASSIFIED)]


def restrict_keys(points: Sequence[AtlasPoint], indices: Iterable[int]) -> list[str]:
    """Keys of the points at ``indices`` (plot positions), in plot order, without repeats."""
    wanted = {int(i) for i in indices}
    return [p.key for p in points if p.index in wanted]
