"""The Atlas's "more like the selection": the ``k`` images nearest to the selection (or to the Explorer's
image when nothing is selected) by cosine distance on the atlas's pooled features
(:meth:`~cvd_explorer.atlas.result.AtlasData.similar`, the query images left out) become the selection,
nearest first: highlighted on the map, in that order in the Explorer's gallery."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.link import AtlasLink, Selection

Similar = Callable[[list[str], int], list[tuple[str, float]]]


class SimilarView:
    """The button, the number of images and the result line (:attr:`widget`); ``button``, ``k`` and
    ``text`` are the Atlas's ``similar_button``, ``similar_k`` and ``similar_text``. Reads ``link.selection``
    and ``link.sample`` when asked; sets ``link.selection``.

    Args:
        link: the shared state.
        points: the atlas's points in plot order.
        similar: ``(manifest paths, k) -> [(path, distance)]`` nearest first.
        errors: the panel's error area.
    """

    def __init__(self, link: AtlasLink, points: Sequence[av.AtlasPoint], similar: Similar, errors: ErrorArea) -> None:
        self.link, self._similar = link, similar
        self._by_key = {p.key: p for p in points}
        self._by_path = {p.path: p for p in points}
        self.distances: dict[str, float] = {}
        self.k = W.BoundedIntText(value=20, min=1, max=max(1, len(points)), description="k",
                                  layout=W.Layout(width="120px"), style={"description_width": "20px"})
        self.button = W.Button(description="more like the selection", icon="clone", layout=W.Layout(width="200px"))
        self.button.add_class("cvd-atlas-similar")
        self.button.on_click(errors.guard("more like the selection")(lambda _b: self.find()))
        self.text = W.HTML("")
        self.widget = W.VBox([W.HBox([self.button, self.k]), self.text])

    def find(self, k: int | None = None) -> list[str]:
        """Select the ``k`` (default: the field's) images nearest to the selection's centroid, or to the
        Explorer's image when nothing is selected; returns their keys, nearest first."""
        query = list(self.link.selection.keys) or ([self.link.sample] if self.link.sample else [])
        paths = [self._by_key[key].path for key in query if key in self._by_key]
        if not paths:
            raise ValueError("select some points (or open an image) first: the search starts from them")
        found = self._similar(paths, int(k or self.k.value))
        hits = [(self._by_path[path], distance) for path, distance in found if path in self._by_path]
        self.distances = {p.key: d for p, d in hits}
        keys = tuple(p.key for p, _ in hits)
        self.link.selection = Selection(keys, ordered=True)
        if hits:
            wrong = sum(not p.correct for p, _ in hits)
            self.text.value = (f"<small>{len(hits)} nearest to {len(paths)} image(s): cosine distance "
                               f"{hits[0][1]:.3f}-{hits[-1][1]:.3f}, {wrong} misclassified; e.g. "
                               f"{html.escape(hits[0][0].name)}</small>")
        else:
            self.text.value = "<small>no other image in the atlas</small>"
        return list(keys)

    def close(self) -> None:
        """Nothing to stop: the view only sets the link."""
