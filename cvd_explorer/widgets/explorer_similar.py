"""The Explorer's "more like this": with a finished atlas of the run, the images nearest to the selected one
on the atlas's pooled features (:meth:`cvd_explorer.atlas.AtlasData.similar`); without one the button is
disabled and says how to compute it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W

from cvd_explorer.explore.samples import SampleRow

NO_ATLAS = "no atlas of this run yet: compute it with `cvd-explorer atlas RUN` (then reload)"
NO_RUN = "needs a run with an atlas (`cvd-explorer atlas RUN`); arrays have none"
K_SIMILAR = 10

Badges = Callable[[SampleRow], tuple[str, str]]


class SimilarControls:
    """The ``button`` ("more like this"), the ``clear`` button (back to the view before) and a ``note``.

    Attributes:
        atlas: the run's finished test atlas (:class:`~cvd_explorer.atlas.AtlasData`), or None.
        distances: ``{sample key: cosine distance}`` of the images shown, empty when inactive.
        query: the key of the image the similar images were searched from, or None.
        saved: what :meth:`remember` kept of the view before (restored by the panel on clear).
    """

    def __init__(self) -> None:
        self.button = W.Button(description="more like this", icon="search", disabled=True, tooltip=NO_RUN,
                               layout=W.Layout(width="140px"))
        self.button.add_class("cvd-more-like-this")
        self.clear = W.Button(description="clear similar", disabled=True, layout=W.Layout(width="120px"),
                              tooltip="back to the images shown before “more like this”")
        self.note = W.HTML("")
        self.widget = W.HBox([self.button, self.clear, self.note], layout=W.Layout(align_items="center"))
        self.atlas: Any = None
        self.distances: dict[str, float] = {}
        self.query: str | None = None
        self.saved: dict[str, Any] = {}

    @property
    def active(self) -> bool:
        """Whether the gallery shows similar images."""
        return self.query is not None

    def open(self, run: Any) -> None:
        """Look for the finished test atlas of ``run`` (a :class:`~cvd_explorer.runs.Run`; None for arrays)."""
        from cvd_explorer.atlas import find_atlas

        self.atlas = None if run is None else find_atlas(run)
        self.button.disabled = self.atlas is None
        self.button.tooltip = (NO_RUN if run is None else NO_ATLAS) if self.atlas is None else (
            f"the {K_SIMILAR} images the model sees most alike (cosine distance on the atlas's pooled features)")
        self.distances, self.query, self.saved = {}, None, {}
        self.clear.disabled = True
        self.note.value = ""

    def search(self, row: SampleRow, key_of: dict[str, str], k: int = K_SIMILAR) -> list[str]:
        """The keys to show for ``row``: itself first, then its ``k`` nearest images, nearest first
        (:attr:`distances` holds their distances; the query's is 0).

        Args:
            key_of: sample key by manifest relative path (the atlas's paths).

        Raises:
            ValueError: no atlas, or a sample the atlas does not hold.
        """
        if self.atlas is None:
            raise ValueError(NO_ATLAS)
        if row.relpath is None:
            raise ValueError(f"{row.name} is not an image of the run's test split; the atlas cannot search from it")
        found = self.atlas.similar(row.relpath, k=k)
        self.distances = {row.key: 0.0}
        for path, distance in found:
            if path in key_of:
                self.distances[key_of[path]] = float(distance)
        self.query = row.key
        self.clear.disabled = False
        self.note.value = f"<i>the {len(self.distances) - 1} images nearest to {row.name}</i>"
        return list(self.distances)

    def badge(self, before: Badges | None) -> Badges:
        """Badges with the distance to the query (``≈0.123``; the query ``query``), then ``before``'s marks."""

        def marks(row: SampleRow) -> tuple[str, str]:
            mark, line = before(row) if before is not None else ("", "")
            d = self.distances.get(row.key)
            if d is None:
                return mark, line
            own = "query" if row.key == self.query else f"≈{d:.3f}"
            tip = "the query image" if row.key == self.query else f"cosine distance {d:.4f} to the query"
            return (f"{own} {mark}".strip(), f"{tip}\n{line}".strip())

        return marks

    def remember(self, **state: Any) -> None:
        """Keep the view before the search (restriction, order, filters, badges), once per search series."""
        if not self.saved:
            self.saved = dict(state)

    def finish(self) -> dict[str, Any]:
        """Leave the similar view: the state to restore, and nothing active."""
        saved, self.saved = self.saved, {}
        self.distances, self.query = {}, None
        self.clear.disabled = True
        self.note.value = ""
        return saved
