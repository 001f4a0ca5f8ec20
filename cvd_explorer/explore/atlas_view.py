"""The Atlas panel's table and figures, without widgets: one point per image of the atlas.

The panel (:mod:`cvd_explorer.widgets.atlas`) shows these points as a scatter and links them to
the Explorer by their sample key (the absolute image path, as in the Explorer's gallery). Here:
the points in plot order with their colour category, confidence and triage flags; the class
colours (two fixed shades for two classes, a 20-colour qualitative palette for more, repeated with
another marker past 20 classes); the triage filters and the label-issue sort; confusion-matrix cells
as lists of keys; the depth curves as plot series; the mean maps per (class x correct /
misclassified) at one block.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvd_explorer.atlas.curves import CURVE_TITLES, DepthCurves
from cvd_explorer.atlas.schema import MISCLASSIFIED, OUTCOMES, AtlasRow, group_names

# two classes: true class -> (colour of its correct images, colour of its misclassified images)
CLASS_COLOURS = (("#7fb3e0", "#08306b"), ("#f9c48a", "#a63603"))
# more classes: Kelly's 20 colours of maximum contrast (without white and black), then again with the
# next marker; a class's misclassified images take its colour darkened by MISTAKE_SHADE
PALETTE = ("#f3c300", "#875692", "#f38400", "#a1caf1", "#be0032", "#c2b280", "#848482", "#008856", "#e68fac",
           "#0067a5", "#f99379", "#604e97", "#f6a600", "#b3446c", "#dcd300", "#882d17", "#8db600", "#654522",
           "#e25822", "#2b3d26")
MARKERS = ("o", "s", "^", "D", "v", "P")
"""matplotlib markers of the rounds of :data:`PALETTE` (class ``k`` has ``MARKERS[k // 20]``)."""
MARKER_SYMBOLS = {"o": "●", "s": "■", "^": "▲", "D": "◆", "v": "▼", "P": "✚"}
MISTAKE_SHADE = 0.5
TRIAGE_FILTERS = ("all", "misclassified", "suspected label error", "copy in another split", "has a verdict",
                  "no verdict")
ISSUE_NAMES = {"outlier": "outlier", "near_duplicate": "near-duplicate", "non_iid": "non-IID"}
"""Titles of the data-issue types of ``summary["issues"]`` (:mod:`cvd_explorer.atlas.data_issues`)."""
ISSUE_FILTER = "data issue: "
TRIAGE_SORTS = ("plot order", "label-issue score", "loss", "confidence")
DEPTH_CURVES = CURVE_TITLES  # {curve: title}: the curves' one home is cvd_explorer.atlas.curves


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
        suggested: the class cleanlab suggests for a suspect ("" when unknown or not a suspect).
        issues: the data-issue types (keys of ``summary["issues"]``) that list the image.
        copy_elsewhere: a copy of it lies in another split (the atlas row's flag, as the CLI counts leakage).
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
    suggested: str = ""
    issues: tuple[str, ...] = ()


def category(label: str, correct: bool) -> str:
    """Colour category of an image: its true class, marked when misclassified."""
    return label if correct else f"{label} · {MISCLASSIFIED}"


def darker(colour: str, shade: float = MISTAKE_SHADE) -> str:
    """``#rrggbb`` scaled towards black by ``shade`` (0: unchanged, 1: black)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c * (1.0 - shade)):02x}" for c in rgb)


def class_colours(classes: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """``{class: (colour of its correct images, of its misclassified images, matplotlib marker)}`` in class
    order: the two fixed shades for two classes; for more, :data:`PALETTE` (misclassified darker), its
    colours repeating past 20 classes with the next of :data:`MARKERS`."""
    if len(classes) <= len(CLASS_COLOURS):
        return {name: (*CLASS_COLOURS[k], MARKERS[0]) for k, name in enumerate(classes)}
    n = len(PALETTE)
    return {name: (PALETTE[k % n], darker(PALETTE[k % n]), MARKERS[(k // n) % len(MARKERS)])
            for k, name in enumerate(classes)}


def categories(classes: Sequence[str]) -> dict[str, str]:
    """``{category: colour}`` for every class, correct and misclassified (legend order)."""
    out: dict[str, str] = {}
    for name, (light, dark, _marker) in class_colours(classes).items():
        out[category(name, True)] = light
        out[category(name, False)] = dark
    return out


def confidence_of(p: float, n_classes: int) -> float:
    """Probability of the predicted class from an atlas row's ``p``: for two classes ``p`` is P(positive),
    so it is ``max(p, 1 - p)``; for more, ``p`` already is the predicted class's probability (as
    ``predictions.csv``'s ``prob``)."""
    return max(p, 1.0 - p) if n_classes <= 2 else p


def atlas_points(
    rows: Sequence[AtlasRow], key_of: Callable[[str], str], classes: Sequence[str] = (),
    suggested: Mapping[str, str] | None = None, issues: Mapping[str, Any] | None = None,
) -> list[AtlasPoint]:
    """The points of the atlas rows in plot order.

    Args:
        rows: the atlas rows (:attr:`~cvd_explorer.atlas.result.AtlasData.rows`); their ``copy_elsewhere``
            is taken as it is (computed once, from the duplicate scan, when the atlas was made).
        key_of: maps a manifest path to the Explorer's sample key.
        classes: the run's classes (default: the classes the rows name; more than two makes ``p`` the
            predicted class's probability, :func:`confidence_of`).
        suggested: ``{manifest path: class cleanlab suggests}`` (:func:`read_suggestions`).
        issues: ``summary["issues"]``, ``{type: {"paths": [...], ...}}``: the types listing each image.
    """
    listed: dict[str, list[str]] = {}
    for kind, entry in (issues or {}).items():
        for path in entry.get("paths") or []:
            listed.setdefault(path, []).append(kind)
    k = len(classes) if classes else len({r.label for r in rows} | {r.prediction for r in rows})
    hints = suggested or {}
    points = []
    for i, r in enumerate(rows):
        points.append(AtlasPoint(
            index=i, key=key_of(r.path), path=r.path, name=r.path.rpartition("/")[2], label=r.label,
            prediction=r.prediction, p=r.p, confidence=confidence_of(r.p, k), loss=r.loss, correct=r.correct,
            x=r.x, y=r.y, group=r.group, label_score=r.label_score, suspect=r.suspect,
            copy_elsewhere=r.copy_elsewhere, category=category(r.label, r.correct),
            suggested=hints.get(r.path, "") if r.suspect else "", issues=tuple(listed.get(r.path, ())),
        ))
    return points


def read_suggestions(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{manifest path: suggested class}`` of an atlas's ``label_issues.csv`` (columns ``path``,
    ``suggested``); ``{}`` when the file or the column is missing (an atlas made before K classes)."""
    file = Path(path)
    if not file.is_file():
        return {}
    with open(file, newline="", encoding="utf-8") as fh:
        return {row["path"]: row["suggested"] for row in csv.DictReader(fh) if row.get("suggested")}


def flags(point: AtlasPoint, verdict: str | None = None) -> list[str]:
    """Short triage flags of a point (for badges and tooltips)."""
    out = []
    if not point.correct:
        out.append("✗ misclassified")
    if point.suspect:
        out.append(f"⚑ suspected label error (suggested: {point.suggested})" if point.suggested
                   and point.suggested != point.label else "⚑ suspected label error")
    if point.copy_elsewhere:
        out.append("⧉ copy in another split")
    out.extend(f"◌ {ISSUE_NAMES.get(kind, kind)}" for kind in point.issues)
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
        what: one of :data:`TRIAGE_FILTERS`, or ``"data issue: <type>"`` (:func:`issue_filters`).
        sort: one of :data:`TRIAGE_SORTS`; "label-issue score" puts the most suspicious first,
            "loss" and "confidence" the highest first.
        verdicts: ``{manifest path: verdict}`` for "has a verdict" / "no verdict".
    """
    kind = what[len(ISSUE_FILTER):] if what.startswith(ISSUE_FILTER) else None
    if what not in TRIAGE_FILTERS and not kind:
        raise ValueError(f"triage filter must be one of {TRIAGE_FILTERS} or 'data issue: <type>', got {what!r}")
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
    kept = [p for p in points if kind in p.issues] if kind else [p for p in points if keep[what](p)]
    if sort == "label-issue score":
        kept.sort(key=lambda p: (_finite_or(p.label_score, math.inf), p.index))
    elif sort == "loss":
        kept.sort(key=lambda p: (-_finite_or(p.loss, -math.inf), p.index))
    elif sort == "confidence":
        kept.sort(key=lambda p: (-p.confidence, p.index))
    return kept


def issue_filters(issues: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(option label, filter)`` of each data-issue type of ``summary["issues"]`` for :func:`triage`, e.g.
    ``("data issue: outlier (12)", "data issue: outlier")``."""
    return [(f"{ISSUE_FILTER}{ISSUE_NAMES.get(k, k)} ({int(v.get('count', 0)):,})", f"{ISSUE_FILTER}{k}")
            for k, v in issues.items()]


@dataclass(frozen=True)
class SliceRow:
    """One underperforming slice as the slices tab lists it.

    Attributes:
        id: its rank; scope: the true class it was found within or "all classes"; keys: the Explorer's keys of
        its images (plot order); size, error_rate, interval (lo, hi), overall (the split's error rate), q_value;
        classes: ``{true class: images}``.
    """

    id: int
    scope: str
    keys: tuple[str, ...]
    size: int
    error_rate: float
    interval: tuple[float, float]
    overall: float
    q_value: float
    classes: dict[str, int]


def slice_rows(slices: Sequence[Mapping[str, Any]], points: Sequence[AtlasPoint]) -> list[SliceRow]:
    """The ``summary["slices"]`` entries with their images as keys of ``points`` (in plot order)."""
    index = {p.path: p for p in points}
    out = []
    for s in slices:
        members = sorted((index[path] for path in s["paths"] if path in index), key=lambda p: p.index)
        out.append(SliceRow(
            id=int(s["id"]), scope=str(s.get("scope", "")), keys=tuple(p.key for p in members), size=int(s["size"]),
            error_rate=float(s["error_rate"]), interval=(float(s["interval"][0]), float(s["interval"][1])),
            overall=float(s["overall_error_rate"]), q_value=float(s["q_value"]),
            classes={str(k): int(v) for k, v in (s.get("classes") or {}).items()}))
    return out


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


def depth_series(depth: DepthCurves, curve: str, by_class: bool = False, outcome: str | None = None
                 ) -> list[DepthSeries]:
    """The plot series of one curve of an atlas's depth curves.

    Args:
        depth: :attr:`~cvd_explorer.atlas.result.AtlasData.depth`.
        curve: a key of :data:`~cvd_explorer.atlas.curves.CURVE_TITLES`; absent curves (no masks) give ``[]``.
        by_class: one series per (class, correct / misclassified) instead of two overall.
        outcome: with ``by_class``, only this outcome (``"correct"`` or ``"misclassified"``): one curve per
            class; None: both.
    """
    if curve not in depth:
        return []
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES} or None, got {outcome!r}")
    if by_class:
        sources = [(f"{name} · ", per[curve]) for name, per in depth.by_class.items() if curve in per]
    else:
        sources = [("", depth.overall[curve])]
    return [
        DepthSeries(
            name=f"{prefix}{kind}", means=list(series.means),
            lows=[None if b is None else b[0] for b in series.intervals],
            highs=[None if b is None else b[1] for b in series.intervals], counts=list(series.counts),
        )
        for prefix, one in sources for kind, series in one.items()
        if not (by_class and outcome is not None and kind != outcome)
    ]


def has_class_curves(depth: DepthCurves) -> bool:
    """The atlas has depth curves per true class (every atlas since the per-class curves; hidden otherwise)."""
    return any(depth.by_class.values())


def available_curves(depth: DepthCurves) -> list[str]:
    """The curves of :data:`~cvd_explorer.atlas.curves.CURVE_TITLES` present in the atlas, in that order."""
    return depth.names


def mean_cam_groups(classes: Sequence[str]) -> list[str]:
    """The mean-map groups, ``"<class>/correct"`` and ``"<class>/misclassified"`` per class."""
    return group_names(classes)


def restrict_keys(points: Sequence[AtlasPoint], indices: Iterable[int]) -> list[str]:
    """Keys of the points at ``indices`` (plot positions), in plot order, without repeats."""
    wanted = {int(i) for i in indices}
    return [p.key for p in points if p.index in wanted]
