"""Two runs' training curves overlaid (accuracy and loss; train solid, validation dashed) as PNG.

Drawn with matplotlib's object API on an Agg canvas: no pyplot, safe off the main thread.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

History = Sequence[Mapping[str, float]]
COLOURS = ("#1f77b4", "#d62728")
PANELS = (("accuracy", ("accuracy", "val_accuracy")), ("loss", ("loss", "val_loss")))


def overlaid_curves_png(
    runs: Sequence[tuple[str, History]], *, width: float = 9.0, height: float = 3.0, dpi: int = 80
) -> bytes:
    """Accuracy and loss per epoch of several runs on shared axes.

    Args:
        runs: ``(name, history)`` per run; history rows have ``epoch`` and any of ``accuracy``,
            ``val_accuracy``, ``loss``, ``val_loss`` (NaN or missing values are skipped).
        width, height: figure size in inches.
        dpi: pixels per inch.

    Returns:
        PNG bytes of a ``(height * dpi, width * dpi)`` RGBA image.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    any_epoch = any(len(history) for _name, history in runs)
    for ax, (title, (train_key, val_key)) in zip(axes, PANELS):
        for i, (name, history) in enumerate(runs):
            colour = COLOURS[i % len(COLOURS)]
            for key, style, what in ((train_key, "-", "train"), (val_key, "--", "val")):
                points = [(int(r["epoch"]), float(r[key])) for r in history if _finite(r.get(key))]
                if points:
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, style, color=colour, marker="o", markersize=2.5, label=f"{name} {what}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3)
        if any_epoch:
            ax.set_xlim(0.5, max(int(r["epoch"]) for _n, h in runs for r in h) + 0.5)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.legend(fontsize=7, loc="best")
        else:
            ax.text(0.5, 0.5, "no completed epoch yet", ha="center", va="center", transform=ax.transAxes,
                    fontsize=9, color="#777")
        if title == "accuracy":
            ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
