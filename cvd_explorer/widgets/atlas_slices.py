"""The Atlas's slices tab: the underperforming slices of ``summary["slices"]`` in rank order, each with a
strip of its first images, its error rate as a bar with its 95% interval against the split's overall
rate, its q-value and classes; "select" selects the slice (``link.selection``): its points on the map,
its images in the Explorer's gallery. The strips are filled on the panel's worker (:meth:`draw`) when the
tab is first shown."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.link import AtlasLink, Selection

STRIP = 6
STRIP_PX = 56
NO_SLICES = ("<i>No underperforming slice: no group of similar images errs significantly more than the split "
             "(or the atlas was computed before slices; <code>cvd-explorer atlas RUN --force</code>).</i>")


def error_bar(row: av.SliceRow, width: int = 180) -> str:
    """HTML of a slice's error rate: the 95% interval as a bar, the rate as a tick, the overall rate as a line."""
    lo, hi = row.interval
    return (f"<div title='error rate {row.error_rate:.0%} (95% interval {lo:.0%}-{hi:.0%}); overall "
            f"{row.overall:.0%}' style='position:relative;width:{width}px;height:14px;background:#eee'>"
            f"<div style='position:absolute;left:{lo * width:.0f}px;width:{max(1.0, (hi - lo) * width):.0f}px;"
            "top:3px;height:8px;background:#e57373'></div>"
            f"<div style='position:absolute;left:{row.error_rate * width:.0f}px;width:2px;top:0;height:14px;"
            "background:#b71c1c'></div>"
            f"<div style='position:absolute;left:{row.overall * width:.0f}px;width:1px;top:0;height:14px;"
            "background:#333'></div></div>")


class SlicesView:
    """The tab (:attr:`widget`); ``buttons`` is ``[Button]`` in rank order (the Atlas's ``slice_buttons``),
    ``strips`` ``[[Image]]`` the thumbnails. Sets ``link.selection``; follows nothing.

    Args:
        link: the shared state.
        slices: ``summary["slices"]`` (:attr:`~cvd_explorer.atlas.result.AtlasData.slices`).
        points: the atlas's points in plot order.
        errors: the panel's error area.
        thumbnail: JPEG bytes of a point's image (the panel's bounded cache), called on the worker.
    """

    def __init__(
        self, link: AtlasLink, slices: Sequence[dict[str, Any]], points: Sequence[av.AtlasPoint], errors: ErrorArea,
        thumbnail: Callable[[av.AtlasPoint], bytes],
    ) -> None:
        self.link, self._thumbnail = link, thumbnail
        self._points = {p.key: p for p in points}
        self.rows = av.slice_rows(slices, points)
        self.buttons: list[W.Button] = []
        self.strips: list[list[W.Image]] = []
        lines: list[W.Widget] = []
        for row in self.rows:
            button = W.Button(description=f"select slice {row.id + 1}", icon="crosshairs",
                              tooltip=f"select its {row.size} images on the map and in the gallery",
                              layout=W.Layout(width="150px"))
            button.add_class("cvd-atlas-slice")
            button.on_click(errors.guard("slice")(lambda _b, r=row: self.select(r.id)))
            strip = [W.Image(format="jpeg", width=STRIP_PX, height=STRIP_PX) for _ in row.keys[:STRIP]]
            classes = ", ".join(f"{html.escape(k)} {n}" for k, n in row.classes.items() if n)
            text = W.HTML(f"<b>{row.size}</b> images ({html.escape(row.scope)}) · error rate "
                          f"<b>{row.error_rate:.0%}</b> [{row.interval[0]:.0%}, {row.interval[1]:.0%}] vs "
                          f"{row.overall:.0%} · q = {row.q_value:.2g}{error_bar(row)}<small>true: {classes}</small>",
                          layout=W.Layout(width="360px"))
            self.buttons.append(button)
            self.strips.append(strip)
            lines.append(W.HBox([button, text, W.HBox(strip)], layout=W.Layout(align_items="center",
                                                                               grid_gap="8px")))
        self.widget = W.VBox(lines or [W.HTML(NO_SLICES)], layout=W.Layout(max_height="520px", overflow="auto"))
        if lines:
            self.widget.children = [W.HTML(
                "<small>Groups of similar images (k-means on the pooled features, within each true class and "
                "across) whose error rate is well above the split's (one-sided binomial test, Benjamini-Hochberg "
                "q-values), best first. Bar: 95% interval of the slice's error rate; dark tick: its rate; black "
                "line: the overall rate.</small>"), *lines]

    def select(self, index: int) -> list[str]:
        """Select slice ``index`` (its rank): its points on the map and its images in the gallery; returns the keys."""
        if not 0 <= index < len(self.rows):
            raise ValueError(f"slice {index} does not exist: the atlas has {len(self.rows)} slices")
        keys = self.rows[index].keys
        self.link.selection = Selection(keys)
        return list(keys)

    def draw(self) -> None:
        """Fill the thumbnail strips (on the panel's worker)."""
        for row, strip in zip(self.rows, self.strips, strict=True):
            for key, image in zip(row.keys, strip, strict=False):
                if not image.value:
                    image.value = self._thumbnail(self._points[key])

    def close(self) -> None:
        """Nothing to stop: the view only sets the link."""
