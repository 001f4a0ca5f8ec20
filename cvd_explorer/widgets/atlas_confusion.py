"""The Atlas's confusion-matrix view: one button per (true, predicted) cell; a click selects the
cell's images (``link.selection``), which the gallery then shows.

Two classes keep the large green / red cells. More classes get compact cells shaded by their share of
the true class's images (green on the diagonal, red off it) in a scrolling box; past
:data:`DENSE_MAX` classes only the cells holding images are buttons (placed on the grid by row and
column), so that 37 classes make a few hundred widgets rather than 1,369.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.link import AtlasLink, Selection

DENSE_MAX = 12
"""Up to this many classes every cell is a button (empty ones disabled)."""
CELL_PX = 46


def shade(share: float, diagonal: bool) -> str:
    """Cell colour: white blended towards green (diagonal) or red by ``share`` in [0, 1]."""
    target = (46, 125, 50) if diagonal else (198, 40, 40)
    t = 0.15 + 0.85 * min(1.0, max(0.0, share)) if share > 0 else 0.0
    return "#" + "".join(f"{round(255 + (c - 255) * t):02x}" for c in target)


class ConfusionView:
    """The matrix (:attr:`widget`); ``buttons`` is ``{(true, predicted): Button}`` (the Atlas's
    ``confusion_buttons``), each showing its count; up to :data:`DENSE_MAX` classes every cell has one
    (disabled when empty), beyond only the cells holding images."""

    def __init__(
        self, link: AtlasLink, points: Sequence[av.AtlasPoint], classes: Sequence[str], errors: ErrorArea,
    ) -> None:
        self.link = link
        cells = av.confusion_cells(points, classes)
        self.buttons: dict[tuple[str, str], W.Button] = {}
        compact = len(classes) > 2
        dense = len(classes) <= DENSE_MAX
        totals = {t: sum(len(cells[(t, p)]) for p in classes) for t in classes}
        grid: list[W.Widget] = [_label("true ↓ / predicted →", 1, 1, compact),
                                *[_label(c, 1, j + 2, compact, vertical=True) for j, c in enumerate(classes)]]
        for i, t in enumerate(classes):
            grid.append(_label(t, i + 2, 1, compact))
            for j, p in enumerate(classes):
                keys = tuple(cells[(t, p)])
                if not keys and not dense:
                    continue
                tip = f"true {t}, predicted {p}: show these {len(keys)} images in the gallery"
                if compact:
                    button = W.Button(description=f"{len(keys):,}" if keys else "", tooltip=tip, layout=W.Layout(
                        width=f"{CELL_PX}px", height="28px", padding="0", grid_row=str(i + 2), grid_column=str(j + 2)))
                    button.style.button_color = shade(len(keys) / max(1, totals[t]), t == p)
                    button.style.font_size = "11px"
                else:
                    button = W.Button(description=f"{len(keys):,}", button_style="success" if t == p else "danger",
                                      tooltip=tip, layout=W.Layout(width="120px", height="40px"))
                button.disabled = not keys
                button.add_class("cvd-confusion-cell")
                button.on_click(errors.guard("confusion cell")(lambda _b, k=keys: self.select(k)))
                self.buttons[(t, p)] = button
                grid.append(button)
        if compact:
            box = W.GridBox(grid, layout=W.Layout(
                grid_template_columns=f"120px repeat({len(classes)}, {CELL_PX}px)",
                grid_template_rows=f"auto repeat({len(classes)}, 30px)", grid_gap="2px"))
            box = W.Box([box], layout=W.Layout(overflow="auto", max_height="560px", max_width="100%"))
            note = ("<small>A cell selects its images: the gallery shows them. Rows are the true class, columns "
                    "the predicted one; the shade is the cell's share of its row.</small>")
        else:
            box = W.GridBox(grid, layout=W.Layout(grid_template_columns=f"180px repeat({len(classes)}, 130px)",
                                                   grid_gap="4px"))
            note = "<small>A cell selects its images: the gallery shows them.</small>"
        self.widget = W.VBox([box, W.HTML(note)])

    def select(self, keys: tuple[str, ...]) -> None:
        """Select the images of a cell (keys in plot order)."""
        self.link.selection = Selection(keys)

    def close(self) -> None:
        """Nothing to stop: the view only sets the link."""


def _label(text: str, row: int, column: int, compact: bool, vertical: bool = False) -> W.HTML:
    """A header cell; compact ones are placed on the grid, cut short (the full name in the title) and, for
    the predicted classes above the columns, written bottom to top."""
    if not compact:
        return W.HTML(f"<b>{html.escape(text)}</b>")
    short = text if len(text) <= 14 else text[:13] + "…"
    turn = "writing-mode:vertical-rl;transform:rotate(180deg);" if vertical else ""
    return W.HTML(f"<b title='{html.escape(text, quote=True)}' style='font-size:11px;{turn}'>{html.escape(short)}</b>",
                  layout=W.Layout(grid_row=str(row), grid_column=str(column), overflow="hidden"))
