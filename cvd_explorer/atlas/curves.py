"""The depth curves of an atlas, typed: :class:`DepthCurves` is ``summary.json``'s ``"depth"`` object.

Per curve (a map statistic across the conv layers) and outcome (correct / misclassified), overall
and per true class: the mean per layer, its 95% interval and the number of images it stands on.
The curve names and their titles live here (:data:`CURVES`, :data:`CURVE_TITLES`). The JSON keeps
its layout (docs/run-directory.md)::

    {"layers": [L], <curve>: {"correct": [L], "misclassified": [L]}, "by_class": {class: {<curve>: ...}},
     "intervals": {<curve>: {outcome: [[lo, hi] | None] * L}, "by_class": {...}},
     "n": {<curve>: {outcome: [L] ints}, "by_class": {...}}}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cvd_explorer.atlas.schema import CORRECT, MISCLASSIFIED, OUTCOMES
from cvd_explorer.errors import RunError

# curve name in the atlas JSON -> statistic of cvd_explorer.atlas.mapstats
CURVES: dict[str, str] = {
    "agreement_with_last": "agreement",
    "concentration": "concentration",
    "mass_in_mask": "mass_in_mask",
    "pointing_game": "pointing_hit",
    "blank_share": "blank",
}
MASK_CURVES = frozenset({"mass_in_mask", "pointing_game"})
CURVE_TITLES: dict[str, str] = {
    "agreement_with_last": "agreement with the deepest layer (Pearson)",
    "mass_in_mask": "share of the map's mass inside the object mask",
    "concentration": "share of mass in the top 10% of cells",
    "pointing_game": "pointing game hit rate",
    "blank_share": "share of all-zero maps",
}
"""Titles of the curves, in the order a reader is offered them."""

Interval = tuple[float, float]


@dataclass(frozen=True)
class Series:
    """One outcome's curve: per layer the mean, its 95% interval and its image count.

    Attributes:
        means: ``[L]`` floats, None where no image has a value.
        intervals: ``[L]`` ``(low, high)``, None where undefined.
        counts: ``[L]`` images each mean stands on (empty when unknown).
    """

    means: tuple[float | None, ...]
    intervals: tuple[Interval | None, ...]
    counts: tuple[int, ...]

    @classmethod
    def from_json(cls, means: Any, intervals: Any, counts: Any) -> Series:
        """From the three JSON lists (intervals and counts may be absent: None)."""
        m = tuple(None if v is None else float(v) for v in means or [])
        ints = tuple(None if b is None else (float(b[0]), float(b[1])) for b in intervals or [None] * len(m))
        return cls(m, ints, tuple(int(n) for n in counts or []))

    def to_json(self) -> tuple[list[float | None], list[list[float] | None], list[int]]:
        """``(means, intervals, counts)`` as JSON lists."""
        return (list(self.means), [None if b is None else [b[0], b[1]] for b in self.intervals], list(self.counts))


@dataclass(frozen=True)
class Curve:
    """One statistic across depth for correct and for misclassified images."""

    correct: Series
    misclassified: Series

    def items(self) -> Iterator[tuple[str, Series]]:
        """``(outcome, series)`` in :data:`~cvd_explorer.atlas.schema.OUTCOMES` order."""
        yield CORRECT, self.correct
        yield MISCLASSIFIED, self.misclassified

    @classmethod
    def from_json(cls, means: Mapping[str, Any], intervals: Mapping[str, Any], counts: Mapping[str, Any]) -> Curve:
        """From the ``{outcome: list}`` objects of the means, intervals and counts."""
        parts = {o: Series.from_json(means.get(o), intervals.get(o), counts.get(o)) for o in OUTCOMES}
        return cls(parts[CORRECT], parts[MISCLASSIFIED])

    def to_json(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """``({outcome: means}, {outcome: intervals}, {outcome: counts})``."""
        out: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
        for outcome, series in self.items():
            for part, values in zip(out, series.to_json(), strict=True):
                part[outcome] = values
        return out


@dataclass(frozen=True)
class DepthCurves:
    """The depth curves of one atlas.

    Attributes:
        layers: conv layer names in depth order, the deepest last (L).
        overall: ``{curve: Curve}`` over every image (curves absent without masks are missing).
        by_class: ``{class: {curve: Curve}}`` per true class.
    """

    layers: tuple[str, ...]
    overall: dict[str, Curve] = field(default_factory=dict)
    by_class: dict[str, dict[str, Curve]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The curves present, in :data:`CURVE_TITLES` order."""
        return [c for c in CURVE_TITLES if c in self.overall]

    def __contains__(self, curve: object) -> bool:
        return curve in self.overall

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DepthCurves:
        """From ``summary["depth"]``; missing intervals or counts read as unknown.

        Raises:
            RunError: the object is not a depth-curves object.
        """
        try:
            intervals, counts = data.get("intervals") or {}, data.get("n") or {}
            overall = {c: Curve.from_json(data[c], intervals.get(c) or {}, counts.get(c) or {})
                       for c in CURVES if c in data}
            by_class: dict[str, dict[str, Curve]] = {}
            for name, per in (data.get("by_class") or {}).items():
                ints = (intervals.get("by_class") or {}).get(name) or {}
                ns = (counts.get("by_class") or {}).get(name) or {}
                by_class[name] = {c: Curve.from_json(per[c], ints.get(c) or {}, ns.get(c) or {})
                                  for c in CURVES if c in per}
            return cls(tuple(str(x) for x in data.get("layers") or []), overall, by_class)
        except (AttributeError, TypeError, ValueError, IndexError) as exc:
            raise RunError(f"the atlas' depth curves are damaged ({exc!r}); compute the atlas again "
                           "(`cvd-explorer atlas RUN --force`)") from None

    def to_json(self) -> dict[str, Any]:
        """The ``"depth"`` object of ``summary.json`` (keys in the order the atlas has always written)."""
        out: dict[str, Any] = {"layers": list(self.layers)}
        intervals: dict[str, Any] = {}
        counts: dict[str, Any] = {}
        for name, curve in self.overall.items():
            out[name], intervals[name], counts[name] = curve.to_json()
        by_class: dict[str, Any] = {}
        by_class_int: dict[str, Any] = {}
        by_class_n: dict[str, Any] = {}
        for cls_name, per in self.by_class.items():
            means, ints, ns = {}, {}, {}
            for name, curve in per.items():
                means[name], ints[name], ns[name] = curve.to_json()
            by_class[cls_name], by_class_int[cls_name], by_class_n[cls_name] = means, ints, ns
        out["by_class"] = by_class
        intervals["by_class"] = by_class_int
        counts["by_class"] = by_class_n
        out["intervals"] = intervals
        out["n"] = counts
        return out
