"""The Explorer's paged gallery showing paired samples: each badge says what both runs predicted."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

from cvd_explorer.explore.compare import Pair
from cvd_explorer.widgets.gallery import Thumbnails

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


class PairGallery(Thumbnails[Pair]):
    """:class:`~cvd_explorer.widgets.gallery.Thumbnails` whose rows are :class:`Pair` objects.

    Args:
        thumbnail: returns ``(jpeg_bytes, broken)`` for a pair.
        on_select: called with the pair whose thumbnail was clicked.
        names: the two runs' names for the tooltips.
        per_page: thumbnails per page.
    """

    def __init__(
        self,
        thumbnail: Callable[[Pair], tuple[bytes, bool]],
        on_select: Callable[[Pair], None],
        names: tuple[str, str] = ("A", "B"), per_page: int = 12,
    ) -> None:
        self.names = names
        super().__init__(thumbnail, on_select, per_page=per_page)

    def _row_badge(self, pair: Pair, broken: bool) -> tuple[str, str, str]:
        """Paired badge: what both runs predicted."""
        return pair_badge(pair, *self.names, broken=broken)

    def _show_box(self, box: W.VBox, visible: bool) -> None:
        """Hide an unused slot but keep its place in the grid."""
        box.layout.visibility = "visible" if visible else "hidden"
