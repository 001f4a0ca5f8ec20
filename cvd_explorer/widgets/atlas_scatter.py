"""The Atlas's embedding scatter: jupyter-scatter (regl-scatterplot on anywidget), built lazily,
and the scatter view (:class:`ScatterView`: the plot, its mouse modes, the hovered image and the
selection, linked to the other views through :class:`~cvd_explorer.widgets.link.AtlasLink`).

Why jupyter-scatter: it draws with WebGL (regl-scatterplot), smooth at hundreds of thousands of
points, so 25,000 is easy; its ``selection`` traitlet syncs both ways (lasso, rectangle or brush
selections and clicks from the browser; indices set from Python), ``hovering`` reports the point
under the mouse, and it ships its JavaScript in the wheel through anywidget, so it renders in
JupyterLab 4 and in Voila without a front-end build or a lab extension. bqplot's scatter is SVG
(slow well before 25,000 points) and plotly's FigureWidget needs its own lab extension and
syncs the whole figure on every selection.

Its import is slow (about a second: matplotlib, pandas, its label placement) and it warns about
a pandas deprecation inside its own font code: both are paid here, on first use, with exactly
those warnings (issued from jscatter's modules) ignored so that the cell shows no stderr.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ipywidgets as W
import numpy as np

from cvd_explorer.explore.atlas_view import AtlasPoint, badge_text, categories
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.gallery import THUMB_PX
from cvd_explorer.widgets.link import AtlasLink, Selection, unobserved

POINT_SIZE = 5
HEIGHT = 460
MODES = (("pan / zoom", "pan"), ("box select", "rectangle"), ("lasso", "freeform"))
NO_SELECTION = "no selection: the gallery shows every image"


@contextmanager
def quiet_jscatter() -> Iterator[None]:
    """Ignore the warnings raised from jupyter-scatter's own modules (its pandas deprecations)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"jscatter(\..*)?")
        warnings.filterwarnings("ignore", message=r".*inplace keyword.*")
        yield


def build_scatter(points: Sequence[AtlasPoint], classes: Sequence[str], *, height: int = HEIGHT) -> Any:
    """A ``jscatter.Scatter`` of the points: colour by true class (misclassified images in the
    class's dark shade), opacity by confidence (from 1 / K to 1), hover tooltips with the image's
    badge, and for two classes jupyter-scatter's own legend (with more, the panel's clickable legend
    stands alone: jupyter-scatter's legend ignores the mouse and would cover the map).

    jupyter-scatter encodes at most two data columns (here colour and opacity) and draws every point
    as a disc: past 20 classes the colours repeat, and only the panel's legend, the tooltip and the
    static figures tell the rounds apart by marker.

    Point ``i`` of the scatter is ``points[i]``.
    """
    with quiet_jscatter():
        import jscatter
        import pandas as pd

        colours = categories(classes)
        frame = pd.DataFrame({
            "x": np.asarray([p.x for p in points], np.float32),
            "y": np.asarray([p.y for p in points], np.float32),
            "class": pd.Categorical([p.category for p in points], categories=list(colours)),
            "confidence": np.asarray([p.confidence for p in points], np.float32),
            "image": [badge_text(p) for p in points],
        })
        scatter = jscatter.Scatter(x="x", y="y", data=frame, height=height, width=height, x_scale=(-0.02, 1.02),
                                   y_scale=(-0.02, 1.02))
        scatter.color(by="class", map=colours)
        scatter.opacity(by="confidence", map=(0.35, 1.0), norm=(1.0 / max(2, len(classes)), 1.0))
        scatter.size(POINT_SIZE)
        scatter.legend(len(classes) <= 2, position="top-right", size="small")
        scatter.tooltip(True, properties=["color", "opacity"], preview="image", preview_type="text",
                        preview_text_lines=3)
        scatter.axes(False)
        scatter.lasso(type="rectangle")
        scatter.widget  # noqa: B018  (create the widget now, inside the warning filter)
    return scatter


def highlight(scatter: Any, point: AtlasPoint | None) -> None:
    """Outline one point (the Explorer's selected image) with a small square and a crosshair."""
    with quiet_jscatter():
        from jscatter import HLine, Rect, VLine

        if point is None:
            scatter.annotations([])
            return
        d = 0.015
        colour = "#222222"
        scatter.annotations([
            Rect(point.x - d, point.x + d, point.y - d, point.y + d, line_color=colour, line_width=2),
            HLine(point.y, x_start=point.x - 4 * d, x_end=point.x - d, line_color=colour),
            HLine(point.y, x_start=point.x + d, x_end=point.x + 4 * d, line_color=colour),
            VLine(point.x, y_start=point.y - 4 * d, y_end=point.y - d, line_color=colour),
            VLine(point.x, y_start=point.y + d, y_end=point.y + 4 * d, line_color=colour),
        ])


def selected_indices(value: Any) -> list[int]:
    """The widget's ``selection`` value (an array of point indices, or None) as a sorted list."""
    if value is None:
        return []
    return sorted({int(i) for i in np.asarray(value).ravel()})


class ScatterView:
    """The scatter with its mouse-mode buttons and clear button (:attr:`widget`) and the side column's
    parts it fills (:attr:`side`): the image under the mouse, what is selected, how many points the
    browser drew.

    Follows ``link.selection`` (the points it selects) and ``link.sample`` (the point outlined);
    sets ``link.selection`` from the browser's selections and the clear button.

    Args:
        link: the shared state.
        points: the atlas's points in plot order.
        classes: the run's class names (colours and legend).
        errors: the panel's error area (callbacks show their failures there).
        thumbnail: JPEG bytes of a point's image, ``THUMB_PX`` square; called only for a hovered
            point (the panel caches them, bounded).
        verdict_of: the verdict given to a manifest path, or None (for the hovered point's line).

    Attributes:
        scatter: the ``jscatter.Scatter``; ``scatter_widget`` its widget.
        mode, clear_button, hover_image, hover_text, rendered, selection_text: the widgets.
        highlighted: key of the point outlined, or None.
    """

    def __init__(
        self, link: AtlasLink, points: Sequence[AtlasPoint], classes: Sequence[str], errors: ErrorArea,
        thumbnail: Callable[[AtlasPoint], bytes], verdict_of: Callable[[str], str | None],
    ) -> None:
        self.link, self.points = link, list(points)
        self._index = {p.key: p.index for p in self.points}
        self._thumbnail, self._verdict_of = thumbnail, verdict_of
        self.highlighted: str | None = None
        self.scatter = build_scatter(self.points, classes)
        self.scatter_widget = self.scatter.widget
        guard = errors.guard
        self._on_widget_selection = guard("selection")(self._widget_selection)
        self._on_link_selection = guard("selection")(self._link_selection)
        self._on_link_sample = guard("highlight")(lambda change: self._highlight(change["new"]))
        self.scatter_widget.observe(self._on_widget_selection, "selection")
        self.scatter_widget.observe(guard("hover")(self._on_hover), "hovering")
        self.scatter_widget.observe(guard("render")(self._on_rendered), "dom_element_id")
        link.observe(self._on_link_selection, "selection")
        link.observe(self._on_link_sample, "sample")

        self.mode = W.ToggleButtons(options=list(MODES), value="pan", description="mouse",
                                    style={"button_width": "90px"})
        self.mode.add_class("cvd-atlas-mode")
        self.mode.observe(guard("mouse mode")(self._on_mode), "value")
        self.clear_button = W.Button(description="clear selection", icon="times", layout=W.Layout(width="140px"))
        self.clear_button.add_class("cvd-atlas-clear")
        self.clear_button.on_click(guard("clear selection")(lambda _b: setattr(link, "selection", Selection())))
        self.widget = W.VBox([W.HBox([self.mode, self.clear_button], layout=W.Layout(align_items="center")),
                              self.scatter_widget], layout=W.Layout(width="62%"))

        self.hover_image = W.Image(format="jpeg", width=THUMB_PX, height=THUMB_PX)
        self.hover_image.add_class("cvd-atlas-hover-image")
        self.hover_text = W.HTML("<i>hover a point to see its image</i>")
        self.hover_text.add_class("cvd-atlas-hover")
        self.rendered = W.HTML("")
        self.rendered.add_class("cvd-atlas-rendered")
        self.selection_text = W.HTML(NO_SELECTION)
        self.selection_text.add_class("cvd-atlas-selection")
        self.side = W.VBox([W.HTML("<b>under the mouse</b>"), W.HBox([self.hover_image, self.hover_text]),
                            W.HTML("<b>selection</b>"), self.selection_text, self.rendered])
        # with nothing selected or outlined, leave the new widget as jupyter-scatter made it: a None
        # selection and an empty annotation list sent before the browser's first draw left its canvas
        # blank in Chromium
        if link.selection.keys:
            self._show_selection(link.selection)
        if link.sample is not None:
            self._highlight(link.sample)

    def close(self) -> None:
        """Stop following the link (the view is replaced)."""
        self.link.unobserve(self._on_link_selection, "selection")
        self.link.unobserve(self._on_link_sample, "sample")

    # ------------------------------------------------------------------ selection
    def _widget_selection(self, change: dict[str, Any]) -> None:
        """A selection made in the browser (box, lasso, a click) becomes the link's selection."""
        wanted = set(selected_indices(change["new"]))
        keys = tuple(p.key for p in self.points if p.index in wanted)
        if set(keys) == set(self.link.selection.keys):
            return  # the browser echoing the selection it was given (keep its order)
        selection = Selection(keys)
        self._describe(selection)
        with unobserved(self.link, self._on_link_selection, "selection"):
            self.link.selection = selection

    def _link_selection(self, change: dict[str, Any]) -> None:
        self._show_selection(change["new"])

    def _show_selection(self, selection: Selection) -> None:
        """Select the points of ``selection`` in the plot (without hearing it back) and describe it."""
        indices = sorted({self._index[k] for k in selection.keys if k in self._index})
        with unobserved(self.scatter_widget, self._on_widget_selection, "selection"):
            self.scatter_widget.selection = np.asarray(indices, np.uint32) if indices else None
        self._describe(selection)

    def _describe(self, selection: Selection) -> None:
        if not selection.keys:
            self.selection_text.value = NO_SELECTION
            return
        wrong = sum(not self.points[self._index[k]].correct for k in selection.keys if k in self._index)
        self.selection_text.value = (f"<b>{len(selection.keys):,}</b> selected ({wrong:,} misclassified): the "
                                     "gallery shows them")

    # ------------------------------------------------------------------ the Explorer's image, hover, mouse
    def _highlight(self, key: str | None) -> None:
        i = None if key is None else self._index.get(key)
        self.highlighted = None if i is None else key
        highlight(self.scatter, None if i is None else self.points[i])

    def _on_hover(self, change: dict[str, Any]) -> None:
        """Show the hovered point's image (loaded now, on first hover) and its line."""
        i = change["new"]
        if i is None or not 0 <= int(i) < len(self.points):
            return
        point = self.points[int(i)]
        self.hover_text.value = html.escape(badge_text(point, self._verdict_of(point.path)))
        self.hover_image.value = self._thumbnail(point)

    def _on_mode(self, change: dict[str, Any]) -> None:
        value = change["new"]
        if value == "pan":
            self.scatter_widget.mouse_mode = "panZoom"
        else:
            self.scatter_widget.lasso_type = value
            self.scatter_widget.mouse_mode = "lasso"

    def _on_rendered(self, _change: dict[str, Any]) -> None:
        """The browser drew the scatter (its view sets ``dom_element_id``): say how many points it got."""
        points = self.scatter_widget.points
        n = 0 if points is None else len(points)
        self.rendered.value = f"<small>{n:,} points drawn</small>"
