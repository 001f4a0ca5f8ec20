"""A small clickable K×K confusion matrix: one button per cell (true class row, predicted class column)
with its count; a click calls back with the cell, empty cells are disabled."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import ipywidgets as W
import numpy as np

MAX_CLASSES = 20
"""Above this many classes the grid is hidden (the filters and ``show_cell`` still select a cell)."""
CELL_PX = 38
NAME_PX = 8  # about the width of one bold character of a column name


class ConfusionGrid:
    """Buttons ``cells[(true, predicted)]`` laid out as the confusion matrix, rows the true classes.

    Args:
        on_cell: called with ``(true_class, predicted_class)`` when a cell is clicked.

    Attributes:
        widget: the box to place in a panel (hidden without classes or beyond :data:`MAX_CLASSES`).
        cells: the cell buttons by ``(true, predicted)``; ``description`` is the count.
        note: says why the grid is hidden, else empty.
    """

    def __init__(self, on_cell: Callable[[str, str], None]) -> None:
        self._on_cell = on_cell
        self.classes: tuple[str, ...] = ()
        self.cells: dict[tuple[str, str], W.Button] = {}
        self.note = W.HTML("")
        self._grid = W.GridBox([])
        self.widget = W.VBox([W.HTML("<span style='color:#444;font-size:90%'>confusion (row: true, column: "
                                     "predicted; click a cell)</span>"), self._grid, self.note])
        self.widget.add_class("cvd-confusion-grid")
        self.widget.layout.display = "none"

    def set_counts(self, classes: Sequence[str], counts: np.ndarray, selected: tuple[str, str] | None = None) -> None:
        """Show ``counts`` (int ``(K, K)``, row true, column predicted) over ``classes``; outline ``selected``."""
        classes = tuple(str(c) for c in classes)
        if not classes or not np.any(counts):  # no labelled image: no matrix to click
            self.widget.layout.display = "none"
            return
        if len(classes) > MAX_CLASSES:
            self.widget.layout.display = ""
            self._grid.layout.display = "none"
            self.note.value = (f"<i>{len(classes)} classes: too many for a grid; choose a cell with the true and "
                               "predicted class filters or <code>show_cell(true, predicted)</code></i>")
            return
        if classes != self.classes:
            self._build(classes)
        self._grid.layout.display = ""
        self.note.value = ""
        self.widget.layout.display = ""
        for (true, pred), button in self.cells.items():
            n = int(counts[classes.index(true), classes.index(pred)])
            button.description = str(n)
            button.disabled = n == 0
            button.tooltip = f"true {true}, predicted {pred}: {n} image{'s' if n != 1 else ''}"
            chosen = selected == (true, pred)
            button.button_style = "info" if chosen else ("success" if true == pred and n else
                                                          ("danger" if n else ""))

    def _build(self, classes: tuple[str, ...]) -> None:
        self.classes = classes
        self.cells = {}
        widths = column_widths(classes)
        items: list[W.Widget] = [W.HTML("")]
        items += [W.HTML(f"<b title='predicted'>{html.escape(c)}</b>", layout=W.Layout(width=f"{w}px"))
                  for c, w in zip(classes, widths, strict=True)]
        for true in classes:
            items.append(W.HTML(f"<b title='true'>{html.escape(true)}</b>"))
            for pred, w in zip(classes, widths, strict=True):
                button = W.Button(description="0", layout=W.Layout(width=f"{w}px", height="24px", padding="0"))
                button.add_class("cvd-confusion-cell")
                button.on_click(lambda _b, t=true, p=pred: self._on_cell(t, p))
                self.cells[(true, pred)] = button
                items.append(button)
        self._grid.children = items
        # packed at the start: the row names' column is as wide as the longest name, not the panel
        self._grid.layout = W.Layout(grid_template_columns="auto " + " ".join(f"{w}px" for w in widths),
                                     grid_gap="2px", justify_content="flex-start", display="")


def column_widths(classes: Sequence[str]) -> list[int]:
    """Pixel width of each class's column: :data:`CELL_PX`, wider for a name that would not fit in bold."""
    return [max(CELL_PX, NAME_PX * len(c) + 8) for c in classes]
