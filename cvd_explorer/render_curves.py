"""Training curves (accuracy and loss, train and validation, per epoch) as PNG bytes.

Drawn with matplotlib's object API on an Agg canvas: no pyplot, no global figure state, safe
from a background thread.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

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
    for ax, (name, series) in zip(axes, CURVES):
        for key, label in series:
            points = [(e, float(row[key])) for e, row in zip(epochs, history) if _finite(row.get(key))]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o", markersize=3, label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3)
        if epochs:
            ax.set_xlim(0.5, max(epochs) + 0.5)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, "no completed epoch yet", ha="center", va="center", transform=ax.transAxes,
                    fontsize=9, color="#777")
        if name == "accuracy":
            ax.set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
