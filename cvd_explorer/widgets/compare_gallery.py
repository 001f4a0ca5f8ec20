"""The Explorer's paged gallery showing paired samples: each badge says what both runs predicted."""

from __future__ import annotations

from cvd_explorer.explore.compare import Pair
from cvd_explorer.widgets.gallery import Gallery

_STYLES = {"both_right": "success", "both_wrong": "danger", "only_a": "warning", "only_b": "info"}


def pair_badge(pair: Pair, name_a: str = "A", name_b: str = "B", broken: bool = False) -> tuple[str, str, str]:
    """``(text, button_style, tooltip)`` of a paired thumbnail, e.g. ``"A✓ B✗ cat"``."""
    mark_a = "✓" if pair.a["correct"] else "✗"
    mark_b = "✓" if pair.b["correct"] else "✗"
    tip = (f"{pair.name}: true {pair.label}; {name_a} predicted {pair.a['predicted']} ({float(pair.a['prob']):.2f}), "
           f"{name_b} predicted {pair.b['predicted']} ({float(pair.b['prob']):.2f})")
    if broken:
        return "⚠ broken", "warning", f"{pair.name}: the image cannot be loaded (select it for the reason)"
    return f"A{mark_a} B{mark_b} {pair.label}", _STYLES[pair.cell], tip


class PairGallery(Gallery):
    """:class:`~cvd_explorer.widgets.gallery.Gallery` whose rows are :class:`Pair` objects.

    Args:
        thumbnail: returns ``(jpeg_bytes, broken)`` for a pair.
        on_select: called with the pair whose thumbnail was clicked.
        names: the two runs' names for the tooltips.
        per_page: thumbnails per page.
    """

    def __init__(self, thumbnail, on_select, names: tuple[str, str] = ("A", "B"), per_page: int = 12) -> None:
        self.names = names
        super().__init__(thumbnail, on_select, per_page=per_page)

    def show_page(self, page: int) -> None:
        """Fill the slots with page ``page`` (clamped), with paired badges."""
        self.page = min(max(int(page), 0), self.pages - 1)
        start = self.page * self.per_page
        for slot, ((image, button), box) in enumerate(zip(self.cells, self._boxes)):
            i = start + slot
            if i >= len(self.rows):
                box.layout.visibility = "hidden"
                continue
            pair = self.rows[i]
            data, broken = self._thumbnail(pair)
            image.value = data
            button.description, button.button_style, button.tooltip = pair_badge(pair, *self.names, broken=broken)
            box.layout.visibility = "visible"
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        self.page_label.value = f"&nbsp;page {self.page + 1}/{self.pages}&nbsp;"
        self.mark(self.selected)
