"""The Atlas's confusion-matrix view: one button per (true, predicted) cell; a click selects the
cell's images (``link.selection``), which the gallery then shows."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.link import AtlasLink, Selection


class ConfusionView:
    """The matrix (:attr:`widget`); ``buttons`` is ``{(true, predicted): Button}`` (the Atlas's
    ``confusion_buttons``), each showing its count and disabled when empty."""

    def __init__(
        self, link: AtlasLink, points: Sequence[av.AtlasPoint], classes: Sequence[str], errors: ErrorArea,
    ) -> None:
        self.link = link
        cells = av.confusion_cells(points, classes)
        self.buttons: dict[tuple[str, str], W.Button] = {}
        grid: list[W.Widget] = [W.HTML("<b>true ↓ / predicted →</b>"),
                                *[W.HTML(f"<b>{html.escape(c)}</b>") for c in classes]]
        for t in classes:
            grid.append(W.HTML(f"<b>{html.escape(t)}</b>"))
            for p in classes:
                keys = tuple(cells[(t, p)])
                button = W.Button(description=f"{len(keys):,}", button_style="success" if t == p else "danger",
                                  tooltip=f"true {t}, predicted {p}: show these {len(keys)} images in the gallery",
                                  layout=W.Layout(width="120px", height="40px"))
                button.disabled = not keys
                button.add_class("cvd-confusion-cell")
                button.on_click(errors.guard("confusion cell")(lambda _b, k=keys: self.select(k)))
                self.buttons[(t, p)] = button
                grid.append(button)
        box = W.GridBox(grid, layout=W.Layout(grid_template_columns=f"180px repeat({len(classes)}, 130px)",
                                               grid_gap="4px"))
        self.widget = W.VBox([box, W.HTML("<small>A cell selects its images: the gallery shows them.</small>")])

    def select(self, keys: tuple[str, ...]) -> None:
        """Select the images of a cell (keys in plot order)."""
        self.link.selection = Selection(keys)

    def close(self) -> None:
        """Nothing to stop: the view only sets the link."""
