"""The report's figures as PNG bytes: matplotlib on the Agg canvas (no pyplot state) and
:mod:`cvd_explorer.render` arrays.

Every function returns PNG bytes; pictures are RGB uint8 ``(H, W, 3)`` arrays.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100


@dataclass(frozen=True)
class Curves:
    """One run's history columns, float64 ``(epochs,)`` each (NaN where missing)."""

    label: str
    epochs: np.ndarray
    accuracy: np.ndarray
    val_accuracy: np.ndarray
    loss: np.ndarray
    val_loss: np.ndarray


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _plot(ax: Any, x: np.ndarray, y: np.ndarray, **style: Any) -> None:
    marker = "o" if len(x) < 12 else None
    ax.plot(x, y, marker=marker, markersize=4, **style)


def training_curves(curves: Sequence[Curves], validation_only: bool = False) -> bytes:
    """Accuracy and loss against epoch, train solid and validation dashed, one colour per run.

    Args:
        curves: one :class:`Curves` per run (one for a run's own figure, several to overlay).
        validation_only: plot only the validation curves (the comparison's overlay).
    """
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for i, c in enumerate(curves):
        colour = f"C{i}"
        prefix = f"{c.label} " if len(curves) > 1 else ""
        for ax, train, val in ((axes[0], c.accuracy, c.val_accuracy), (axes[1], c.loss, c.val_loss)):
            if not validation_only:
                _plot(ax, c.epochs, train, color=colour, linestyle="-", label=f"{prefix}train")
            _plot(ax, c.epochs, val, color=colour, linestyle="--", label=f"{prefix}validation")
    for ax, name in zip(axes, ("accuracy", "loss"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(f"{'validation ' if validation_only else ''}{name}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylim(-0.02, 1.02)
    return _png(fig)


def image_panels(rows: Sequence[Sequence[tuple[np.ndarray, str]]], cell_inches: float = 2.2) -> bytes:
    """A grid of titled pictures, one list of ``(picture, title)`` per row (rows may be ragged).

    Args:
        rows: pictures RGB uint8 ``(H, W, 3)``; each is shown with its aspect ratio kept.
        cell_inches: height of one row in inches; widths follow the widest row.
    """
    n_cols = max(len(r) for r in rows)
    aspect = max(p.shape[1] / p.shape[0] for r in rows for p, _ in r)
    fig = Figure(figsize=(n_cols * cell_inches * min(aspect, 4.0), len(rows) * (cell_inches + 0.45)),
                 layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), n_cols, squeeze=False))
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_axis_off()
            if c < len(row):
                picture, title = row[c]
                ax.imshow(picture, interpolation="nearest")
                ax.set_title(title, fontsize=7)
    return _png(fig)


def strips(strips_and_titles: Sequence[tuple[np.ndarray, str]]) -> bytes:
    """Depth strips (from :func:`cvd_explorer.render.depth_strip`) stacked, each with a title."""
    width = max(s.shape[1] for s, _ in strips_and_titles)
    height = sum(s.shape[0] for s, _ in strips_and_titles)
    scale = min(1.0, 1100 / width)  # inches at DPI: keep the page width readable
    fig = Figure(figsize=(width * scale / DPI, (height * scale) / DPI + 0.3 * len(strips_and_titles)),
                 layout="constrained")
    axes = fig.subplots(len(strips_and_titles), 1, squeeze=False)[:, 0]
    for ax, (strip, title) in zip(axes, strips_and_titles, strict=True):
        ax.imshow(strip, interpolation="nearest")
        ax.set_title(title, fontsize=8, loc="left")
        ax.set_axis_off()
    return _png(fig)


def confusion(matrix: np.ndarray, classes: Sequence[str], title: str) -> bytes:
    """A K x K confusion matrix heatmap with its counts: rows the true class, columns the predicted one.

    Args:
        matrix: ``(K, K)`` int counts, as :func:`cvd_explorer.stats.confusion_matrix` returns.
        classes: class names in the matrix's order (on both axes).
    """
    matrix = np.asarray(matrix)
    k = len(classes)
    if matrix.shape != (k, k):
        raise ValueError(f"a confusion matrix of {k} classes must be ({k}, {k}), got {matrix.shape}")
    side = 3.6 if k == 2 else min(12.0, 2.4 + 0.45 * k)
    fig = Figure(figsize=(side, side * 0.9), layout="constrained")
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1, int(matrix.max())))
    size = 12 if k <= 4 else max(5, 11 - k // 4)
    for (i, j), count in np.ndenumerate(matrix):
        dark = count > matrix.max() / 2
        ax.text(j, i, str(int(count)), ha="center", va="center", fontsize=size, color="white" if dark else "black")
    if k == 2:  # the study's look
        ax.set_xticks(range(k), [f"predicted {c}" for c in classes])
        ax.set_yticks(range(k), [f"true {c}" for c in classes])
    else:
        tick = max(5, 9 - k // 8)
        ax.set_xticks(range(k), list(classes), fontsize=tick, rotation=90 if max(map(len, classes)) > 3 else 0)
        ax.set_yticks(range(k), list(classes), fontsize=tick)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def randomization(steps: Sequence[dict[str, Any]], title: str) -> bytes:
    """Median Spearman correlation with the trained maps as weights are randomised from the top.

    Args:
        steps: the list :func:`cvd_explorer.explain.metrics.randomization_check` returns.
    """
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(steps))
    ax.plot(x, [s["spearman_median"] for s in steps], marker="o", label="Grad-CAM, partly randomised model")
    ax.axhline(steps[0]["baseline_median"], color="C3", linestyle="--", label="random maps (baseline)")
    ax.legend(fontsize=8)
    return _randomization_axes(fig, ax, steps, title)


def _randomization_axes(fig: Figure, ax: Axes, steps: Sequence[dict[str, Any]], title: str) -> bytes:
    """The axes of a randomisation plot (one tick per randomised layer of ``steps``, Spearman in [-1, 1]),
    the title, and the figure as PNG bytes."""
    ax.set_xticks(np.arange(len(steps)), [s["randomized"] for s in steps], rotation=45, ha="right", fontsize=7)
    ax.set_xlabel("randomised down to (cascading from the head)")
    ax.set_ylabel("median Spearman vs trained maps")
    ax.set_ylim(-1.05, 1.05)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def labelled_rows(rows: Sequence[tuple[str, Sequence[tuple[np.ndarray, str]]]], cell_inches: float = 1.3) -> bytes:
    """A grid of titled pictures with a label to the left of each row (e.g. probe x layer over epochs).

    Args:
        rows: ``(row label, [(picture RGB uint8 (H, W, 3), title), ...])``; rows may be ragged.
        cell_inches: side of one picture in inches.
    """
    n_cols = max(len(cells) for _, cells in rows)
    fig = Figure(figsize=(n_cols * cell_inches + 1.6, len(rows) * (cell_inches + 0.3)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), n_cols, squeeze=False))
    for r, (label, cells) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(cells):
                picture, title = cells[c]
                ax.imshow(picture, interpolation="nearest")
                ax.set_title(title, fontsize=7)
        axes[r, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    return _png(fig)


def randomization_methods(lines: Sequence[tuple[str, bool, Sequence[dict[str, Any]]]], title: str) -> bytes:
    """Every method's randomisation check in one plot: median Spearman with the trained maps per step.

    Args:
        lines: ``(label, is_pixel_method, steps)`` per method, ``steps`` as
            :func:`cvd_explorer.explain.metrics.randomization_check` returns; pixel methods dashed.
    """
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    steps0 = lines[0][2]
    x = np.arange(len(steps0))
    for i, (label, pixel, steps) in enumerate(lines):
        ax.plot(x[: len(steps)], [s["spearman_median"] for s in steps], marker="o", markersize=3,
                linestyle="--" if pixel else "-", color=f"C{i % 10}", label=label)
    ax.axhline(steps0[0]["baseline_median"], color="grey", linestyle=":", label="random maps")
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    return _randomization_axes(fig, ax, steps0, title)
