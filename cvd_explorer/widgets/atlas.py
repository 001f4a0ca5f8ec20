"""The Atlas: every test image of a run as a point of its embedding map, linked to the Explorer.

Layout, top to bottom: title and counts; the error area; the scatter (colour = true class,
misclassified images in the class's dark shade, opacity = confidence; pan and zoom with the
mouse, rectangle or lasso selection from the mode buttons or a long press, click a point to open
it) with a side column (the hovered image with its badge, the selection, the verdict buttons for
the Explorer's image); the clickable class legend (a class selects its images); tabs with the
depth curves (a layer slider under the plot moves the Explorer's layer slider: clicks on a PNG
are not reported to the kernel), the confusion matrix
(a cell filters the gallery), triage (suspected label errors, copies in another split, sort by
label-issue score, export of the verdicts) and the mean CAM per (class x correct /
misclassified) at a chosen block; then the linked Explorer.

A thin composition: its views (modules ``atlas_scatter``, ``atlas_depth``, ``atlas_confusion``,
``atlas_triage``, ``atlas_means``) share one :class:`~cvd_explorer.widgets.link.AtlasLink` and never
touch each other's widgets; the Atlas keeps the link and the Explorer in step through the
Explorer's public linking methods only. Figures are drawn on the panel's worker (:meth:`wait`).

Opening reads only the atlas files and the run's predictions: the Explorer (and with it
TensorFlow and the model) is created when an image is first selected, clicked or asked for
(``atlas.explorer``). Hover thumbnails are read only for the point under the mouse, through the
panel's bounded thumbnail cache. A run without a current atlas shows a button that computes it on
the worker with a progress bar, and the command that does the same.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import ipywidgets as W

from cvd_explorer.atlas.store import LABEL_ISSUES
from cvd_explorer.explore import atlas_view as av
from cvd_explorer.explore.verdicts import Verdicts, export_path
from cvd_explorer.widgets._panel import Panel
from cvd_explorer.widgets.atlas_compute import ComputeBox
from cvd_explorer.widgets.atlas_confusion import ConfusionView
from cvd_explorer.widgets.atlas_depth import DepthView
from cvd_explorer.widgets.atlas_handles import AtlasHandles
from cvd_explorer.widgets.atlas_legend import LegendView
from cvd_explorer.widgets.atlas_means import MeanMapsView
from cvd_explorer.widgets.atlas_scatter import ScatterView
from cvd_explorer.widgets.atlas_similar import SimilarView
from cvd_explorer.widgets.atlas_slices import SlicesView
from cvd_explorer.widgets.atlas_triage import TriageView
from cvd_explorer.widgets.explorer import Explorer
from cvd_explorer.widgets.link import AtlasLink, Selection, unobserved


class _Figure(Protocol):
    def draw(self) -> None: ...


class Atlas(Panel, AtlasHandles):
    """Embedding map, depth curves, confusion matrix and triage of a run's atlas, linked to an Explorer.

    Args:
        run_or_path: a :class:`~cvd_explorer.runs.Run` or its directory.
        explorer: an Explorer to link to (it is then not shown inside the Atlas); default: one is
            created on first use and shown below the Atlas.
        split: the atlas's split (the Explorer shows the test split).
        method: the atlas's CAM method (default Grad-CAM).
        data_root: image folder of a run copied from another machine.
        background: compute on a worker thread (False: synchronously, for tests).
        per_page: thumbnails per page of the created Explorer.
        tabs: show the Explorer and the Atlas as two tabs of one panel (the Explorer, and so the
            model, is then opened at once); a click on a point switches to the Explorer's tab.

    Attributes:
        link: the :class:`~cvd_explorer.widgets.link.AtlasLink` the views share.
        scatter_view, depth, confusion, triage, means, legend, slices, similar: the views (None without an
            atlas).

    Test handles: ``points`` (sample keys in plot order), ``selection`` (settable list of keys; [] or
    None clears), ``explorer``, ``scatter`` (the ``jscatter.Scatter``) and ``scatter_widget``,
    ``depth_image``, ``depth_curve``, ``depth_by_class``, ``depth_outcome``, ``depth_layer``,
    ``confusion_buttons`` (``{(true, predicted): Button}``), ``legend_buttons`` (``{class: Button}``),
    ``legend_mistakes``, ``slice_buttons`` (in rank order), ``similar_button``, ``similar_k``,
    ``similar_text``, ``triage_filter``, ``triage_sort``, ``triage_apply``,
    ``verdict_buttons`` (``{verdict: Button}``), ``verdict_clear``, ``verdict_note``, ``verdicts``,
    ``export_path``, ``export_button``, ``export_result``, ``mean_block``, ``mean_class``, ``mean_image``,
    ``hover_image``, ``hover_text``, ``highlighted`` (key of the point outlined), ``compute_button``,
    ``progress``, ``error``, :meth:`wait`.
    """

    def __init__(
        self,
        run_or_path: Any,
        *,
        explorer: Explorer | None = None,
        split: str = "test",
        method: str | None = None,
        data_root: str | os.PathLike[str] | None = None,
        background: bool = True,
        per_page: int = 12,
        tabs: bool = False,
    ) -> None:
        super().__init__(background=background, reload_tooltip="re-read the atlas (e.g. after computing it)")
        from cvd_explorer.runs.run import Run

        self.run = run_or_path if isinstance(run_or_path, Run) else Run(run_or_path, data_root=data_root)
        self._split, self._method = split, method
        self._background, self._per_page = background, per_page
        self._explorer = explorer
        self._linked_explorer: Explorer | None = None
        self.data: Any = None
        self._points: list[av.AtlasPoint] = []
        self._index: dict[str, int] = {}
        self.verdicts = Verdicts(self.run.path)
        self.link = AtlasLink()
        self.scatter_view: ScatterView | None = None
        self.depth: DepthView | None = None
        self.confusion: ConfusionView | None = None
        self.triage: TriageView | None = None
        self.means: MeanMapsView | None = None
        self.legend: LegendView | None = None
        self.slices: SlicesView | None = None
        self.similar: SimilarView | None = None
        self.tabs: W.Tab | None = None  # the views' tabs (depth curves, confusion, slices, triage, mean CAM)
        self._dirty: list[_Figure] = []
        self._dirty_lock = threading.Lock()
        guard = self.errors.guard
        self._on_link_layer = guard("layer")(lambda change: self._to_explorer_layer(change["new"]))
        self.link.observe(guard("selection")(lambda change: self._to_explorer_selection(change["new"])),
                          "selection")
        self.link.observe(guard("open")(lambda change: self._to_explorer_sample(change["new"])), "sample")
        self.link.observe(self._on_link_layer, "layer")

        self.title = W.HTML("<b>Atlas</b>")
        self.counts = W.HTML("")
        self.counts.add_class("cvd-atlas-counts")
        self.body = W.VBox([])
        self.explorer_slot = W.VBox([])
        self.root = W.VBox([
            W.HBox([self.title, self.counts, self.reload_button, self.busy],
                   layout=W.Layout(align_items="center", grid_gap="12px")),
            self.error, self.body, self.explorer_slot,
        ])
        self.root.add_class("cvd-atlas")
        self.computing = ComputeBox(self.run, split, method, self.worker, self.errors, self._show_atlas)
        self.compute_box, self.compute_button = self.computing.widget, self.computing.button
        self.progress, self.progress_text = self.computing.progress, self.computing.progress_text
        self.reload()
        if tabs:
            self._as_tabs()

    # ------------------------------------------------------------------ public API
    @property
    def points(self) -> list[str]:
        """Sample keys (absolute image paths, as in the Explorer) in plot order."""
        return [p.key for p in self._points]

    @property
    def atlas_points(self) -> list[av.AtlasPoint]:
        """The points with their triage flags, in plot order."""
        return list(self._points)

    @property
    def selection(self) -> list[str]:
        """Keys of the selected points, in plot order; set a list of keys to select them (the
        Explorer's gallery then shows exactly those, its own filters applying on top); ``[]`` or
        None clears the selection."""
        chosen = set(self.link.selection.keys)
        return [p.key for p in self._points if p.key in chosen]

    @selection.setter
    def selection(self, keys: Sequence[str] | None) -> None:
        wanted = list(dict.fromkeys(keys or []))
        unknown = [k for k in wanted if k not in self._index]
        if unknown:
            raise KeyError(f"{len(unknown)} key(s) are not points of the atlas, e.g. {unknown[0]!r}")
        self.link.selection = Selection(tuple(wanted))

    @property
    def explorer(self) -> Explorer:
        """The linked Explorer (created on first use: that loads the model)."""
        if self._explorer is None:
            from cvd_explorer.quiet_tf import import_tensorflow

            import_tensorflow()  # without its C++ start-up chatter on stderr
            self.busy_indicator.set("opening the Explorer (loading the model)")
            try:
                self._explorer = Explorer(self.run, background=self._background, per_page=self._per_page)
            finally:
                self.busy_indicator.set(None)
            if not isinstance(self.root, W.Tab):
                self.explorer_slot.children = [self._explorer.root]
        if self._linked_explorer is not self._explorer:
            self._link(self._explorer)
        return self._explorer

    def clear_selection(self) -> None:
        """Select nothing: the gallery shows every image again."""
        self.selection = None

    def apply_triage(self) -> list[str]:
        """Select the images passing the triage filter, in the triage order (the gallery follows
        that order); returns their keys ([] without an atlas)."""
        return self.triage.apply() if self.triage is not None else []

    def select_slice(self, index: int) -> list[str]:
        """Select the underperforming slice of rank ``index`` (the slices tab's button); returns its keys."""
        if self.slices is None:
            raise ValueError("this run has no atlas yet: compute it first")
        return self.slices.select(index)

    def more_like_selection(self, k: int | None = None) -> list[str]:
        """Select the ``k`` images nearest to the selection (or the Explorer's image), nearest first."""
        if self.similar is None:
            raise ValueError("this run has no atlas yet: compute it first")
        return self.similar.find(k)

    def export_verdicts(self, dest: str | os.PathLike[str] | None = None) -> Path:
        """Write the verdicts as ``path,verdict,label,note,updated`` (default: the export field)."""
        if self.triage is None:
            raise ValueError("this run has no atlas yet: compute it first")
        return self.triage.export(dest)

    def set_verdict(self, verdict: str | None, key: str | None = None) -> None:
        """Record a verdict (one of :data:`~cvd_explorer.explore.verdicts.VERDICTS`, None removes it)
        on ``key`` (default: the Explorer's current image); saved at once."""
        if self.triage is None:
            raise ValueError("this run has no atlas yet: compute it first")
        self.triage.set_verdict(verdict, key)

    def reload(self) -> None:
        """Find the run's current atlas and show it, or the way to compute it."""
        from cvd_explorer.atlas import find_atlas

        self.errors.clear()
        try:
            atlas = find_atlas(self.run, self._split, self._method)
        except Exception as exc:
            self.errors.show(exc, "cannot read the atlas")
            atlas = None
        if atlas is None:
            self._close_views()
            self.data = None
            self._points, self._index = [], {}
            self.counts.value = ""
            self.body.children = [self.compute_box]
            return
        self._show_atlas(atlas)

    def open(self, key: str) -> None:
        """Open the image ``key`` in the Explorer (its layer slider, CAM and prediction)."""
        self.explorer.sample = key
        if isinstance(self.root, W.Tab):
            self.root.selected_index = 0

    def compute(self) -> None:
        """Compute the atlas on the worker thread, with the progress bar; shows it when done."""
        self.computing.compute()

    # ------------------------------------------------------------------ showing an atlas
    def _as_tabs(self) -> None:
        """The Explorer and the Atlas as the two tabs of :attr:`root`."""
        explorer = self.explorer
        self.explorer_slot.children = []
        atlas_view = self.root
        self.root = W.Tab(children=[explorer.root, atlas_view], titles=("Explorer", "Atlas"))
        self.root.add_class("cvd-atlas-tabs-panel")

    def _show_atlas(self, atlas: Any) -> None:
        """Build the views of ``atlas`` (replacing the previous ones); the selection starts empty."""
        self._close_views()
        self.data = atlas
        run = self.run
        keys = {r["relpath"]: r["path"] for r in (run.predictions or [])}
        classes = list(run.classes)
        points = av.atlas_points(atlas.rows, lambda p: keys.get(p) or str(run.image_path(p)), classes,
                                 av.read_suggestions(atlas.folder / LABEL_ISSUES), atlas.issues)
        self._points, self._index = points, {p.key: p.index for p in points}
        wrong = sum(not p.correct for p in points)
        self.counts.value = (
            f"{len(points):,} {html.escape(atlas.split)} images · {wrong:,} misclassified · "
            f"{sum(p.suspect for p in points):,} suspected label errors · "
            f"{sum(p.copy_elsewhere for p in points):,} with a copy in another split · "
            f"{html.escape(atlas.method)}")
        self.link.selection = Selection()
        link, errors = self.link, self.errors
        self.triage = TriageView(link, points, self.verdicts, export_path(run.path), errors,
                                 self._refresh_badges, av.issue_filters(atlas.issues))
        self.scatter_view = ScatterView(link, points, classes, errors, self._hover_thumbnail, self.triage.verdict_of)
        self.depth = DepthView(link, atlas.depth, atlas.layers, classes, errors, self._redraw)
        self.confusion = ConfusionView(link, points, classes, errors)
        self.means = MeanMapsView(atlas, classes, errors, self._redraw)
        self.legend = LegendView(link, points, classes, errors)
        self.slices = SlicesView(link, atlas.slices, points, errors, self._hover_thumbnail)
        self.similar = SimilarView(link, points, atlas.similar, errors)
        tabs = W.Tab(children=[self.depth.widget, self.confusion.widget, self.slices.widget, self.triage.widget,
                               self.means.widget],
                     titles=("depth curves", "confusion matrix", "slices", "triage", "mean CAM"))
        tabs.add_class("cvd-atlas-tabs")
        slices = self.slices  # its thumbnails load when the tab is first shown: opening reads no image
        tabs.observe(errors.guard("slices")(lambda c: self._redraw(slices) if c["new"] == 2 else None),
                     "selected_index")
        self.tabs = tabs
        side = W.VBox([self.scatter_view.side, self.similar.widget, self.triage.verdict_box],
                      layout=W.Layout(width="38%"))
        self.body.children = [W.HBox([self.scatter_view.widget, side], layout=W.Layout(grid_gap="12px")),
                              self.legend.widget, tabs]
        self._redraw(self.depth, self.means)
        if self._explorer is not None:
            self._link(self._explorer)
        else:
            open_button = W.Button(description="open the Explorer", icon="search", layout=W.Layout(width="180px"))
            open_button.on_click(self.errors.guard("open the Explorer")(lambda _b: self.explorer))
            self.explorer_slot.children = [W.HBox([open_button, W.HTML(
                "The Explorer opens with the first image you select (click a point or select a group); "
                "it loads the model.")], layout=W.Layout(align_items="center", grid_gap="8px"))]

    def _close_views(self) -> None:
        for view in (self.scatter_view, self.depth, self.confusion, self.triage, self.means, self.legend,
                     self.slices, self.similar):
            if view is not None:
                view.close()
        self.scatter_view = self.depth = self.confusion = self.triage = self.means = self.legend = None
        self.slices = self.similar = None

    # ------------------------------------------------------------------ figures, on the worker
    def _redraw(self, *figures: _Figure) -> None:
        """Draw these figures on the panel's worker (here and now with ``background=False``): a job
        draws every figure waiting, so a newer job replacing a pending one loses none."""
        with self._dirty_lock:
            self._dirty.extend(f for f in figures if f not in self._dirty)
        self.worker.submit(self._draw_waiting, lambda _r: None, lambda exc: self.errors.show(exc, "figure"),
                           label="drawing the atlas's figures")

    def _draw_waiting(self) -> None:
        while True:
            with self._dirty_lock:
                if not self._dirty:
                    return
                figure = self._dirty.pop(0)
            self.errors.guard("figure")(figure.draw)()

    # ------------------------------------------------------------------ the Explorer, through its public methods
    def _link(self, explorer: Explorer) -> None:
        """Follow the Explorer's image and layer, and mark its gallery's thumbnails with the triage flags."""
        if self._linked_explorer is not explorer:
            self._linked_explorer = explorer
            explorer.on_select.append(self.errors.guard("select")(self._from_explorer_sample))
            explorer.on_layer.append(self.errors.guard("layer")(self._from_explorer_layer))
        explorer.set_badges(self.triage.badges if self.triage is not None else None)
        if explorer.sample is not None:
            self._from_explorer_sample(explorer.sample)

    def _from_explorer_sample(self, key: str) -> None:
        self.link.sample = key

    def _from_explorer_layer(self, layer: str) -> None:
        with unobserved(self.link, self._on_link_layer, "layer"):
            self.link.layer = layer

    def _to_explorer_sample(self, key: str | None) -> None:
        if key is not None and self.explorer.sample != key:
            self.explorer.sample = key

    def _to_explorer_layer(self, layer: str | None) -> None:
        if layer is not None:
            self.explorer.set_layer(layer)

    def _to_explorer_selection(self, selection: Selection) -> None:
        """The gallery shows exactly the selection (in its order when it is ordered); one image is a
        click: it is also opened in the Explorer."""
        if not selection.keys:
            if self._explorer is not None:
                self._explorer.restrict(None)
            return
        self.explorer.restrict(selection.keys, order="selection" if selection.ordered else None)
        if len(selection.keys) == 1:
            self.open(selection.keys[0])

    def _refresh_badges(self) -> None:
        if self._explorer is not None and self.triage is not None:
            self._explorer.set_badges(self.triage.badges)

    # ------------------------------------------------------------------ hover thumbnails
    def _hover_thumbnail(self, point: av.AtlasPoint) -> bytes:
        """JPEG of a hovered point: :meth:`Panel._thumbnail`'s bounded cache, filled only on hover."""
        return self._thumbnail(point)[0]

    def _thumb_image(self, point: av.AtlasPoint) -> Any:
        from cvd_explorer.data.loader import load_image

        return load_image(point.key)
