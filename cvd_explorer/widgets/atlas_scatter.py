"""The Atlas's embedding scatter: jupyter-scatter (regl-scatterplot on anywidget), built lazily.

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

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from cvd_explorer.explore.atlas_view import AtlasPoint, badge_text, categories

POINT_SIZE = 5
HEIGHT = 460


@contextmanager
def quiet_jscatter() -> Iterator[None]:
    """Ignore the warnings raised from jupyter-scatter's own modules (its pandas deprecations)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"jscatter(\..*)?")
        warnings.filterwarnings("ignore", message=r".*inplace keyword.*")
        yield


def build_scatter(points: Sequence[AtlasPoint], classes: Sequence[str], *, height: int = HEIGHT) -> Any:
    """A ``jscatter.Scatter`` of the points: colour by true class (misclassified images in the
    class's dark shade), opacity by confidence, a legend, hover tooltips with the image's badge.

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
        scatter.opacity(by="confidence", map=(0.35, 1.0), norm=(0.5, 1.0))
        scatter.size(POINT_SIZE)
        scatter.legend(True, position="top-right", size="small")
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
