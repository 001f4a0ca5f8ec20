"""A paged gallery of thumbnails with label and prediction badges; clicking one selects it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

import ipywidgets as W

from cvd_explorer.explore.samples import SampleRow

THUMB_PX = 96


def badge(row: SampleRow, broken: bool = False) -> tuple[str, str, str]:
    """``(text, button_style, tooltip)`` of a thumbnail's badge."""
    if broken:
        return "⚠ broken", "warning", f"{row.name}: the image cannot be loaded (select it for the reason)"
    mark = "?" if row.correct is None else ("✓" if row.correct else "✗")
    style = "" if row.correct is None else ("success" if row.correct else "danger")
    label = row.label if row.label is not None else "?"
    what = "p(positive)" if len(row.probs) <= 2 else f"p({row.predicted})"  # K > 2: the predicted class's
    tip = f"{row.name}: true {label}, predicted {row.predicted}, {what} {row.prob:.3f}, loss {row.loss:.3f}"
    return f"{mark} {label}→{row.predicted} {row.prob:.2f}", style, tip


class Keyed(Protocol):
    """A gallery row: anything with a ``key`` (the sample's identity in the panel)."""

    @property
    def key(self) -> str: ...


RowT = TypeVar("RowT", bound=Keyed)


class Thumbnails(Generic[RowT]):
    """Thumbnails of a list of rows, ``per_page`` at a time; subclasses say how a row's badge reads.

    Args:
        thumbnail: returns ``(jpeg_bytes, broken)`` for a row.
        on_select: called with the row whose thumbnail was clicked.
        per_page: thumbnails per page.
        columns: thumbnails per line.

    Attributes:
        widget: the VBox to place in a panel.
        cells: one ``(Image, Button)`` pair per slot, reused across pages.
        page: current page, from 0.
        extra_badge: optional ``row -> (marks, tooltip line)`` appended to each badge (the Atlas's
            triage flags and verdicts); call :meth:`show_page` after setting it.
    """

    def __init__(
        self,
        thumbnail: Callable[[RowT], tuple[bytes, bool]],
        on_select: Callable[[RowT], None],
        per_page: int = 12,
        columns: int = 6,
    ) -> None:
        self._thumbnail = thumbnail
        self._on_select = on_select
        self.per_page = int(per_page)
        self.rows: list[RowT] = []
        self.page = 0
        self.selected: str | None = None
        self.extra_badge: Callable[[RowT], tuple[str, str]] | None = None
        self.cells: list[tuple[W.Image, W.Button]] = []
        boxes = []
        for slot in range(self.per_page):
            image = W.Image(format="jpeg", width=THUMB_PX, height=THUMB_PX)
            button = W.Button(layout=W.Layout(width=f"{THUMB_PX + 28}px", height="26px", padding="0"))
            button.add_class("cvd-thumb-button")
            button.on_click(lambda _b, slot=slot: self._clicked(slot))
            box = W.VBox(
                [image, button], layout=W.Layout(align_items="center", margin="2px", border="2px solid transparent")
            )
            box.add_class("cvd-thumb")
            self.cells.append((image, button))
            boxes.append(box)
        self._boxes = boxes
        self.prev = W.Button(description="◀ prev", layout=W.Layout(width="80px"))
        self.next = W.Button(description="next ▶", layout=W.Layout(width="80px"))
        self.page_label = W.HTML("")
        self.prev.on_click(lambda _b: self.show_page(self.page - 1))
        self.next.on_click(lambda _b: self.show_page(self.page + 1))
        grid = W.GridBox(boxes, layout=W.Layout(grid_template_columns=f"repeat({int(columns)}, {THUMB_PX + 36}px)"))
        self.widget = W.VBox([grid, W.HBox([self.prev, self.page_label, self.next])])
        self.widget.add_class("cvd-gallery")

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, math.ceil(len(self.rows) / self.per_page))

    def set_rows(self, rows: Sequence[RowT], page: int = 0) -> None:
        """Show ``rows`` from ``page``."""
        self.rows = list(rows)
        self.show_page(page)

    def page_of(self, key: str) -> int | None:
        """Page holding the row with ``key``, or None."""
        for i, row in enumerate(self.rows):
            if row.key == key:
                return i // self.per_page
        return None

    def show_page(self, page: int) -> None:
        """Fill the slots with page ``page`` (clamped)."""
        self.page = min(max(int(page), 0), self.pages - 1)
        start = self.page * self.per_page
        for slot, ((image, button), box) in enumerate(zip(self.cells, self._boxes, strict=True)):
            i = start + slot
            if i >= len(self.rows):
                self._show_box(box, False)
                continue
            row = self.rows[i]
            data, broken = self._thumbnail(row)
            image.value = data
            button.description, button.button_style, button.tooltip = self._badge(row, broken)
            self._show_box(box, True)
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        self.page_label.value = f"&nbsp;page {self.page + 1}/{self.pages}&nbsp;"
        self.mark(self.selected)

    def _badge(self, row: RowT, broken: bool) -> tuple[str, str, str]:
        """``(text, button_style, tooltip)`` of a row's thumbnail button (with :attr:`extra_badge`'s marks)."""
        text, style, tip = self._row_badge(row, broken)
        if self.extra_badge is not None:
            marks, line = self.extra_badge(row)
            if marks:
                text = f"{marks} {text}"
            if line:
                tip = f"{tip}\n{line}"
        return text, style, tip

    def _row_badge(self, row: RowT, broken: bool) -> tuple[str, str, str]:
        raise NotImplementedError

    def _show_box(self, box: W.VBox, visible: bool) -> None:
        """Show or hide an unused slot."""
        box.layout.display = None if visible else "none"

    def mark(self, key: str | None) -> None:
        """Outline the thumbnail of the selected row."""
        self.selected = key
        start = self.page * self.per_page
        for slot, box in enumerate(self._boxes):
            i = start + slot
            chosen = i < len(self.rows) and self.rows[i].key == key
            box.layout.border = "2px solid #1976d2" if chosen else "2px solid transparent"

    def _clicked(self, slot: int) -> None:
        i = self.page * self.per_page + slot
        if i < len(self.rows):
            self._on_select(self.rows[i])


class Gallery(Thumbnails[SampleRow]):
    """The Explorer's gallery: one :class:`~cvd_explorer.explore.samples.SampleRow` per thumbnail."""

    def _row_badge(self, row: SampleRow, broken: bool) -> tuple[str, str, str]:
        return badge(row, broken)
