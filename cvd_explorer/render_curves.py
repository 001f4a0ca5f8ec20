"""Training curves (accuracy and loss, train and validation, per epoch) as PNG bytes.

Drawn with matplotlib's object API on an Agg canvas: no pyplot, no global figure state, safe
from a background thread.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

CURVES = (
    ("accuracy", (("accuracy", "train"), ("val_accuracy", "validation"))),
    ("loss", (("loss", "train"), ("val_loss", "validation"))),
)


def curves_png(
    history: Sequence[Mapping[str, float]],
    *,
    width: float = 8.0,
    height: float = 2.8,
    dpi: int = 80,
    title: str = "",
) -> bytes:
    """Accuracy and loss per epoch, train and validation, side by side.

    Args:
        history: rows with ``epoch`` and any of ``accuracy``, ``val_accuracy``, ``loss``,
            ``val_loss`` (NaN or missing values are skipped); may be empty.
        width, height: figure size in inches.
        dpi: pixels per inch.
        title: text above the plots.

    Returns:
        PNG bytes of a ``(height * dpi, width * dpi)`` RGBA image.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    epochs = [int(row["epoch"]) for row in history]
    for ax, (name, series) in zip(axes, CURVES, strict=True):
        for key, label in series:
            points = [(e, float(row[key])) for e, row in zip(epochs, history, strict=True) if finite(row.get(key))]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", markersize=3, label=label)
        style_axes(ax, name, max(epochs) if epochs else None)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def style_axes(ax: Any, title: str, last_epoch: int | None, legend_size: int = 8) -> None:
    """Title, epoch axis, grid and legend of one curves panel.

    Args:
        ax: a matplotlib ``Axes`` with the curves drawn.
        title: panel title; ``"accuracy"`` also fixes the y range to [0, 1].
        last_epoch: highest epoch plotted, or None when there is none (the panel says so).
        legend_size: legend font size.
    """
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3)
    if last_epoch is not None:
        ax.set_xlim(0.5, last_epoch + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=legend_size, loc="best")
    else:
        ax.text(0.5, 0.5, "no completed epoch yet", ha="center", va="center", transform=ax.transAxes,
                fontsize=9, color="#777")
    if title == "accuracy":
        ax.set_ylim(-0.02, 1.02)


def finite(value: object) -> bool:
    """True for an int or float that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and math.isfinite(value)
