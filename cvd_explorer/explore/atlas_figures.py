"""Static figures of the atlas as PNG bytes: depth curves with intervals, the embedding, mean maps.

Drawn with matplotlib's object API on an Agg canvas: no pyplot, no global state, safe off the
kernel's main thread. Used by the Atlas panel (depth curves, mean maps) and the report (all three).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from cvd_explorer.atlas.schema import CORRECT, MISCLASSIFIED
from cvd_explorer.explore.atlas_view import AtlasPoint, DepthSeries, categories, class_colours

SERIES_STYLE = {CORRECT: ("#2e7d32", "-"), MISCLASSIFIED: ("#c62828", "--")}
CLASS_LINE = ("#1f77b4", "#ff7f0e")


def _canvas(width: float, height: float, dpi: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _style(series: DepthSeries, classes: Sequence[str]) -> tuple[str, str]:
    """Colour and dash of a series: green / red overall; a class's colour per class (two classes: the
    two line colours; more: the scatter's class colour), dashed for misclassified images."""
    group = MISCLASSIFIED if series.name.endswith(MISCLASSIFIED) else CORRECT
    colour, dash = SERIES_STYLE[group]
    palette = class_colours(classes) if len(classes) > len(CLASS_LINE) else {}
    for k, name in enumerate(classes):
        if series.name.startswith(f"{name} · "):
            colour = palette[name][0] if palette else CLASS_LINE[k % len(CLASS_LINE)]
    return colour, dash


def depth_png(
    series: Sequence[DepthSeries], layers: Sequence[str], *, title: str, classes: Sequence[str] = (),
    marker: str | None = None, width: float = 7.5, height: float = 3.0, dpi: int = 80,
) -> bytes:
    """Depth curves: per layer (x, input to output) the mean with its 95% interval band.

    Args:
        series: from :func:`~cvd_explorer.explore.atlas_view.depth_series`.
        layers: layer names in depth order (the x axis); ticks show a few of them.
        title: the y quantity.
        classes: class names (per-class series get the class's colour).
        marker: a layer to mark with a vertical line (the Explorer's current layer).
        width, height, dpi: figure size.

    Returns:
        PNG bytes of a ``(height * dpi, width * dpi)`` RGBA image.
    """
    fig = _canvas(width, height, dpi)
    ax = fig.subplots()
    x = np.arange(len(layers))
    for s in series:
        colour, dash = _style(s, classes)
        y = np.asarray([np.nan if v is None else v for v in s.means], float)
        lo = np.asarray([np.nan if v is None else v for v in s.lows], float)
        hi = np.asarray([np.nan if v is None else v for v in s.highs], float)
        if np.isfinite(y).any():
            ax.plot(x[: len(y)], y, dash, color=colour, marker="o", markersize=2.5, linewidth=1.4, label=s.name)
            ax.fill_between(x[: len(y)], lo, hi, color=colour, alpha=0.15, linewidth=0)
    if marker is not None and marker in layers:
        ax.axvline(list(layers).index(marker), color="#555", linewidth=1, linestyle=":")
    step = max(1, len(layers) // 6)
    ticks = list(range(0, len(layers), step))
    if layers and len(layers) - 1 - ticks[-1] > step // 2:
        ticks.append(len(layers) - 1)
    ax.set_xticks(ticks)
    ax.set_xticklabels([layers[i] for i in ticks], rotation=20, ha="right", fontsize=7)
    ax.set_xlabel("conv layer (input → output)", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if len(series) > 6:  # many classes: the legend beside the plot, in columns
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1 + len(series) // 16,
                  borderaxespad=0.0)
    elif series:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _png(fig)


def embedding_png(
    points: Sequence[AtlasPoint], classes: Sequence[str], *, width: float = 6.0, height: float = 5.0, dpi: int = 90,
) -> bytes:
    """The atlas embedding as a static scatter: colour by true class (past 20 classes the colours repeat
    with another marker), misclassified images dark with a black outline, opacity by confidence."""
    fig = _canvas(width, height, dpi)
    ax = fig.subplots()
    colours = categories(classes)
    markers = {name: style[2] for name, style in class_colours(classes).items()}
    for name, colour in colours.items():
        sel = [p for p in points if p.category == name]
        if not sel:
            continue
        wrong = name.endswith(MISCLASSIFIED)
        ax.scatter([p.x for p in sel], [p.y for p in sel], s=22 if wrong else 8, c=colour,
                   marker=markers.get(sel[0].label, "o"),
                   alpha=None if wrong else 0.7, edgecolors="black" if wrong else "none", linewidths=0.6,
                   label=f"{name} ({len(sel)})", zorder=3 if wrong else 2)
    suspects = [p for p in points if p.suspect]
    if suspects:
        ax.scatter([p.x for p in suspects], [p.y for p in suspects], s=70, facecolors="none", edgecolors="#6a1b9a",
                   linewidths=1.0, label=f"suspected label error ({len(suspects)})", zorder=4)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(classes) > 4:
        ax.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1 + len(colours) // 30,
                  markerscale=1.0, borderaxespad=0.0)
    else:
        ax.legend(fontsize=7, loc="best", markerscale=1.2)
    ax.set_title("embedding of the head's features (UMAP)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def mean_cams_png(
    maps: Sequence[np.ndarray], titles: Sequence[str], *, cell: float = 1.9, dpi: int = 80, columns: int = 8,
) -> bytes:
    """Mean maps side by side (each ``(32, 32)``, scaled to its own maximum) with titles, in rows of at
    most ``columns`` maps."""
    n = max(1, len(maps))
    cols = min(n, max(1, columns))
    rows = -(-n // cols)
    fig = _canvas(cell * cols, (cell + 0.4) * rows, dpi)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes[len(maps):]:
        ax.set_axis_off()
    for ax, m, t in zip(axes, maps, titles, strict=False):
        values = np.asarray(m, float)
        peak = float(values.max()) if values.size else 0.0
        ax.imshow(values / peak if peak > 0 else values, cmap="jet", vmin=0, vmax=1, interpolation="bilinear")
        ax.set_title(t, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _png(fig)
