"""Which samples the Explorer's gallery shows, beyond its filters: an Atlas selection (:meth:`restrict`),
badges (:meth:`set_badges`), one confusion cell (:meth:`show_cell`) and "more like this"
(:meth:`more_like_this`, :meth:`clear_similar`). A mixin of :class:`~cvd_explorer.widgets.explorer.Explorer`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import ipywidgets as W

from cvd_explorer.explore.samples import SampleRow
from cvd_explorer.explore.session import Session
from cvd_explorer.widgets.explorer_filters import SORTS, FilterBar
from cvd_explorer.widgets.explorer_similar import K_SIMILAR, SimilarControls
from cvd_explorer.widgets.gallery import Gallery

Order = Literal["confidence", "loss", "name", "selection"]
Badges = Callable[[SampleRow], tuple[str, str]]


class GallerySelection:
    """The Explorer's methods choosing the gallery's samples (it provides the attributes declared here)."""

    session: Session | None
    _row: SampleRow | None
    _restricted: tuple[str, ...] | None
    filters: FilterBar
    similar: SimilarControls
    gallery: Gallery
    filter: W.ToggleButtons
    class_filter: W.Dropdown
    predicted_filter: W.Dropdown
    sort: W.Dropdown

    def _set_quiet(self, fn: Callable[[], None]) -> None:
        raise NotImplementedError

    def _refilter(self) -> None:
        raise NotImplementedError

    def restrict(self, keys: Iterable[str] | None, order: Order | None = None) -> None:
        """Show only the samples with these keys (an Atlas selection), the filters still applying
        on top; None shows every sample again.

        Args:
            keys: sample keys (see :attr:`samples`); unknown keys are left out.
            order: how the gallery sorts them: ``"selection"`` in the order of ``keys``, or
                ``"confidence"``, ``"loss"``, ``"name"``; None keeps the sort chosen.
        """
        if order is not None and order not in dict(SORTS).values():
            raise ValueError(f"order must be one of {[v for _, v in SORTS]} or None, got {order!r}")
        self._restricted = None if keys is None else tuple(keys)
        if self.similar.active and self._restricted != tuple(self.similar.distances):
            self.similar.finish()  # another selection (the Atlas's) replaces the similar images
        if order is not None:
            self._set_quiet(lambda: setattr(self.sort, "value", order))
        self._refilter()

    def set_badges(self, badges: Badges | None) -> None:
        """Add marks to the gallery's badges: ``badges(row) -> (marks, tooltip line)``, e.g. the
        Atlas's triage flags (None: no marks). Call it again to redraw after the marks changed."""
        self.gallery.extra_badge = badges
        self.gallery.show_page(self.gallery.page)

    @property
    def restricted(self) -> tuple[str, ...] | None:
        """The keys the gallery is restricted to, in the Atlas's order (see :meth:`restrict`), or None."""
        return self._restricted

    def show_cell(self, true_class: str | None, predicted_class: str | None) -> None:
        """Show exactly the images of one confusion cell: true class ``true_class`` predicted as
        ``predicted_class`` (the prediction filter goes back to "all"); ``show_cell(None, None)`` clears
        every filter. An Atlas selection or similar images still restrict the gallery.

        Raises:
            ValueError: a class that is not one of the run's classes, named.
        """
        if true_class is None and predicted_class is None:
            self._set_quiet(self.filters.reset)
        elif true_class is None or predicted_class is None:
            raise ValueError("show_cell needs both a true and a predicted class (or neither, to clear)")
        else:
            self._set_quiet(lambda: self.filters.set_cell(str(true_class), str(predicted_class)))
        self._refilter()

    def more_like_this(self, k: int = K_SIMILAR) -> list[str]:
        """Fill the gallery with the selected image and its ``k`` nearest images in the run's atlas (their
        cosine distance on the badges, every filter on "all"); :meth:`clear_similar` goes back. Returns the keys.

        Raises:
            ValueError: no atlas (compute it with ``cvd-explorer atlas RUN``) or no sample selected.
        """
        if self.session is None or self._row is None:
            raise ValueError("select an image first")
        key_of = {r.relpath: r.key for r in self.session.rows if r.relpath is not None}
        keys = self.similar.search(self._row, key_of, k)
        self.similar.remember(keys=self._restricted, sort=self.sort.value, badges=self.gallery.extra_badge,
                              filters=(self.filter.value, self.class_filter.value, self.predicted_filter.value))
        self._set_quiet(self.filters.reset)
        self.gallery.extra_badge = self.similar.badge(self.similar.saved.get("badges"))
        self.restrict(keys, order="selection")
        return keys

    def clear_similar(self) -> None:
        """Leave "more like this": the gallery as it was before (restriction, order, filters, badges)."""
        if not self.similar.active:
            return
        saved = self.similar.finish()
        values = saved.get("filters", ("all", "all", "all"))

        def put_back() -> None:
            self.filter.value, self.class_filter.value, self.predicted_filter.value = values
        self._set_quiet(put_back)
        self.gallery.extra_badge = saved.get("badges")
        self.restrict(saved.get("keys"), order=saved.get("sort"))

