"""Two runs' training curves overlaid (accuracy and loss; train solid, validation dashed) as PNG.

Drawn with matplotlib's object API on an Agg canvas: no pyplot, safe off the main thread.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from cvd_explorer.render_curves import finite, style_axes

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
    epochs = [int(r["epoch"]) for _name, history in runs for r in history]
    last_epoch = max(epochs) if epochs else None
    for ax, (title, (train_key, val_key)) in zip(axes, PANELS, strict=True):
        for i, (name, history) in enumerate(runs):
            colour = COLOURS[i % len(COLOURS)]
            for key, style, what in ((train_key, "-", "train"), (val_key, "--", "val")):
                points = [(int(r["epoch"]), float(r[key])) for r in history if finite(r.get(key))]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, style, color=colour, marker="o", markersize=2.5, label=f"{name} {what}")
        style_axes(ax, title, last_epoch, legend_size=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()

