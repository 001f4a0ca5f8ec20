"""The Atlas's triage view: a filter and a sort over the points (suspected label errors, copies in
another split, verdicts given) that select their images, the verdict buttons for the Explorer's
image (``link.sample``), and the export of the verdicts for ``cvd-explorer split --exclude``."""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.explore.verdicts import Verdicts
from cvd_explorer.verdicts import VERDICTS
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.gallery import Keyed
from cvd_explorer.widgets.link import AtlasLink, Selection


class TriageView:
    """The triage tab (:attr:`widget`) and the verdict box of the side column (:attr:`verdict_box`).

    Follows ``link.sample`` (whose verdict the box shows); sets ``link.selection``.

    Args:
        link: the shared state.
        points: the atlas's points in plot order.
        verdicts: the run's verdict store (saved at once).
        export_to: the default file of the export.
        errors: the panel's error area.
        on_verdict: called after a verdict changed (the panel redraws the gallery's badges).
        issue_filters: ``(label, filter)`` of the atlas's data-issue types
            (:func:`~cvd_explorer.explore.atlas_view.issue_filters`), offered after the fixed filters.

    Attributes:
        filter, sort, apply_button, text, export_path, export_button, export_result: the triage
            widgets (the Atlas's ``triage_filter``, ``triage_sort``, ``triage_apply``, ...).
        verdict_target, verdict_buttons (``{verdict: Button}``), verdict_clear, verdict_note: the box.
    """

    def __init__(
        self, link: AtlasLink, points: Sequence[av.AtlasPoint], verdicts: Verdicts, export_to: Path,
        errors: ErrorArea, on_verdict: Callable[[], None], issue_filters: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.link, self.points, self.verdicts, self._on_verdict = link, list(points), verdicts, on_verdict
        self._index = {p.key: p.index for p in self.points}
        guard = errors.guard
        self.filter = W.Dropdown(options=[(f, f) for f in av.TRIAGE_FILTERS] + list(issue_filters),
                                 value="suspected label error",
                                 description="show", layout=W.Layout(width="300px"))
        self.sort = W.Dropdown(options=list(av.TRIAGE_SORTS), value="label-issue score",
                               description="sort by", layout=W.Layout(width="300px"))
        self.apply_button = W.Button(description="select in the gallery", icon="filter",
                                     layout=W.Layout(width="200px"))
        self.apply_button.add_class("cvd-triage-apply")
        self.apply_button.on_click(guard("triage")(lambda _b: self.apply()))
        self.text = W.HTML("")
        self.export_path = W.Text(value=str(export_to), description="export", layout=W.Layout(width="560px"))
        self.export_button = W.Button(description="export verdicts", icon="save", layout=W.Layout(width="160px"))
        self.export_button.on_click(guard("export verdicts")(lambda _b: self.export()))
        self.export_result = W.HTML("")
        self.widget = W.VBox([
            W.HBox([self.filter, self.sort, self.apply_button]),
            self.text,
            W.HTML("<small>Badges in the gallery: ⚑ suspected label error (cleanlab, with its suggested class), "
                   "⧉ copy in another split, ◌ data issue (outlier, near-duplicate, non-IID: cleanlab Datalab), "
                   "✎ verdict given. Verdicts are saved in <code>RUN/atlas/verdicts.csv</code>; the export is read "
                   "by <code>cvd-explorer split DATA --exclude VERDICTS.csv</code>.</small>"),
            W.HBox([self.export_path, self.export_button]), self.export_result,
        ])

        self.verdict_target = W.HTML("")
        self.verdict_buttons = {v: W.Button(description=v, layout=W.Layout(width="150px")) for v in VERDICTS}
        for verdict, button in self.verdict_buttons.items():
            button.add_class("cvd-verdict")
            button.on_click(guard("verdict")(lambda _b, v=verdict: self.set_verdict(v)))
        self.verdict_clear = W.Button(description="no verdict", layout=W.Layout(width="150px"))
        self.verdict_clear.on_click(guard("verdict")(lambda _b: self.set_verdict(None)))
        self.verdict_note = W.Text(placeholder="note (optional)", layout=W.Layout(width="300px"))
        self.verdict_box = W.VBox([
            W.HTML("<b>verdict on the Explorer's image</b>"), self.verdict_target,
            W.HBox([*self.verdict_buttons.values()], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.verdict_clear, self.verdict_note]),
        ])
        self._on_link_sample = guard("verdict")(lambda change: self._show_verdict(change["new"]))
        link.observe(self._on_link_sample, "sample")
        self._update_counts()
        self._show_verdict(link.sample)

    def close(self) -> None:
        """Stop following the link (the view is replaced)."""
        self.link.unobserve(self._on_link_sample, "sample")

    def apply(self) -> list[str]:
        """Select the images passing the filter, in the triage order (the gallery follows that
        order unless it is the plot order); returns their keys."""
        kept = av.triage(self.points, self.filter.value, self.sort.value, self.verdicts.as_dict())
        keys = tuple(p.key for p in kept)
        self.link.selection = Selection(keys, ordered=bool(keys) and self.sort.value != "plot order")
        return list(keys)

    def export(self, dest: str | os.PathLike[str] | None = None) -> Path:
        """Write the verdicts as ``path,verdict,label,note,updated`` (default: the export field)."""
        labels = {p.path: p.label for p in self.points}
        path = self.verdicts.export(dest or self.export_path.value, labels)
        self.export_result.value = f"wrote {len(self.verdicts)} verdicts to <code>{html.escape(str(path))}</code>"
        return path

    def set_verdict(self, verdict: str | None, key: str | None = None) -> None:
        """Record a verdict (one of :data:`~cvd_explorer.explore.verdicts.VERDICTS`, None removes it)
        on ``key`` (default: the Explorer's image, ``link.sample``), with the note typed; saved at once."""
        key = key or self.link.sample
        if key is None or key not in self._index:
            raise ValueError("select an image of the atlas first (click a point or a thumbnail)")
        point = self.points[self._index[key]]
        self.verdicts.set(point.path, verdict, self.verdict_note.value)
        self.verdict_note.value = ""
        self._show_verdict(key)
        self._update_counts()
        self._on_verdict()

    def verdict_of(self, path: str) -> str | None:
        """The verdict given to the image at manifest ``path``, or None."""
        verdict = self.verdicts.get(path)
        return verdict.verdict if verdict else None

    def badges(self, row: Keyed) -> tuple[str, str]:
        """The gallery's marks of ``row`` (⚑ suspected label error, ⧉ copy in another split, ✎ verdict
        given) and its tooltip line: the Explorer's :meth:`~cvd_explorer.widgets.explorer.Explorer.set_badges`."""
        i = self._index.get(row.key)
        if i is None:
            return "", ""
        point = self.points[i]
        verdict = self.verdict_of(point.path)
        marks = ("⚑" if point.suspect else "") + ("⧉" if point.copy_elsewhere else "") + (
            "◌" if point.issues else "") + ("✎" if verdict else "")
        return marks, "; ".join(av.flags(point, verdict)[0 if point.correct else 1:])

    def _update_counts(self) -> None:
        counts = self.verdicts.counts()
        given = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "none yet"
        self.text.value = f"verdicts: {html.escape(given)}"

    def _show_verdict(self, key: Any) -> None:
        if key is None or key not in self._index:
            self.verdict_target.value = "<i>no image selected</i>"
            return
        point = self.points[self._index[key]]
        verdict = self.verdicts.get(point.path)
        said = f"<b>{html.escape(verdict.verdict)}</b>" if verdict else "none yet"
        self.verdict_target.value = f"{html.escape(point.name)}: {said}"
        for name, button in self.verdict_buttons.items():
            button.button_style = "warning" if verdict and verdict.verdict == name else ""
