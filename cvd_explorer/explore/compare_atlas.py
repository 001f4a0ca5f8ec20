"""Compare's use of the two runs' atlases: depth curves on one relative-depth axis, and the
agreement cells crossed with the triage (suspected label errors).

ResNet50 has 53 conv layers and ResNet101 104: a layer's relative depth is its index over the
number of layers minus one (0 = first conv layer, 1 = the deepest), so the two curves share an
axis. The crossing reads "both models wrong and a suspected label error": most likely the label.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.atlas.schema import MISCLASSIFIED, AtlasRow
from cvd_explorer.explore.atlas_view import DepthSeries, depth_series

CELLS = ("both_right", "both_wrong", "only_a", "only_b")


@dataclass(frozen=True)
class RunCurve:
    """One run's depth series at relative depths ``xs`` (``[L]`` in [0, 1])."""

    run: str
    xs: list[float]
    series: DepthSeries


def relative_depths(n_layers: int) -> list[float]:
    """``[L]`` relative depths: 0 for the first layer, 1 for the deepest (``[1.0]`` for one layer)."""
    return [1.0] if n_layers == 1 else [i / (n_layers - 1) for i in range(n_layers)]


def run_curves(depths: Sequence[tuple[str, DepthCurves]], curve: str) -> list[RunCurve]:
    """Correct and misclassified series of ``curve`` for each ``(run name, AtlasData.depth)``."""
    out: list[RunCurve] = []
    for name, depth in depths:
        xs = relative_depths(len(depth.layers))
        out.extend(RunCurve(name, xs, s) for s in depth_series(depth, curve))
    return out


def overlay_png(curves: Sequence[RunCurve], *, title: str, width: float = 7.5, height: float = 3.0) -> bytes:
    """Both runs' curves with their 95% bands on the relative-depth axis, as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    runs = sorted({c.run for c in curves}, key=[c.run for c in curves].index)
    for c in curves:
        colour = ("#1f77b4", "#ff7f0e")[runs.index(c.run) % 2]
        dash = "--" if c.series.name.endswith(MISCLASSIFIED) else "-"
        pts = [(x, m) for x, m in zip(c.xs, c.series.means, strict=True) if m is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), dash, color=colour, label=f"{c.run} · {c.series.name}", lw=1.4)
        band = [(x, lo, hi) for x, lo, hi in zip(c.xs, c.series.lows, c.series.highs, strict=True)
                if lo is not None and hi is not None]
        if band:
            bx, blo, bhi = zip(*band, strict=True)
            ax.fill_between(bx, blo, bhi, color=colour, alpha=0.12, lw=0)
    ax.set_xlabel("relative depth (0 = first conv layer, 1 = deepest)")
    ax.set_ylabel(title)
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def suspects_of(rows: Iterable[AtlasRow]) -> set[str]:
    """Manifest paths an atlas lists as suspected label errors (``AtlasRow.suspect``)."""
    return {r.path for r in rows if r.suspect}


def triage_cross(pairs: Iterable[Any], suspects_a: set[str], suspects_b: set[str]) -> dict[str, dict[str, int]]:
    """Per agreement cell: images, and those suspected as label errors by A, by B, by either.

    Args:
        pairs: :class:`~cvd_explorer.explore.compare.Pair` objects (``a["relpath"]`` is the manifest path).
        suspects_a, suspects_b: suspects of each run's atlas.

    Returns:
        ``{cell: {"images", "suspect_a", "suspect_b", "suspect_any", "suspect_both"}}`` for every cell.
    """
    out = {cell: dict.fromkeys(("images", "suspect_a", "suspect_b", "suspect_any", "suspect_both"), 0)
           for cell in CELLS}
    for pair in pairs:
        counts = out[pair.cell]
        path = pair.a.get("relpath")
        in_a, in_b = path in suspects_a, path in suspects_b
        counts["images"] += 1
        counts["suspect_a"] += int(in_a)
        counts["suspect_b"] += int(in_b)
        counts["suspect_any"] += int(in_a or in_b)
        counts["suspect_both"] += int(in_a and in_b)
    return out


def is_suspect(pair: Any, suspects_a: set[str], suspects_b: set[str]) -> bool:
    """Whether either run's atlas suspects the pair's label."""
    path = pair.a.get("relpath")
    return path in suspects_a or path in suspects_b
