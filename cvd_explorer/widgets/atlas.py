"""The Atlas: every test image of a run as a point of its embedding map, linked to the Explorer.

Layout, top to bottom: title and counts; the error area; the scatter (colour = true class,
misclassified images in the class's dark shade, opacity = confidence; pan and zoom with the
mouse, rectangle or lasso selection from the mode buttons or a long press, click a point to open
it) with a side column (the hovered image with its badge, the selection, the verdict buttons for
the Explorer's image); tabs with the depth curves (a layer slider under the plot moves the
Explorer's layer slider: clicks on a PNG are not reported to the kernel), the confusion matrix
(a cell filters the gallery), triage (suspected label errors, copies in another split, sort by
label-issue score, export of the verdicts) and the mean CAM per (class x correct /
misclassified) at a chosen block; then the linked Explorer.

Opening reads only the atlas files and the run's predictions: the Explorer (and with it
TensorFlow and the model) is created when an image is first selected, clicked or asked for
(``atlas.explorer``). A run without a current atlas shows a button that computes it on a worker
thread with a progress bar, and the command that does the same.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.explore.atlas_figures import depth_png, mean_cams_png
from cvd_explorer.explore.cache import LRUCache
from cvd_explorer.explore.samples import SampleRow
from cvd_explorer.explore.verdicts import Verdicts
from cvd_explorer.verdicts import VERDICTS
from cvd_explorer.widgets._panel import Panel
from cvd_explorer.widgets.atlas_scatter import build_scatter, highlight, selected_indices
from cvd_explorer.widgets.explorer import Explorer
from cvd_explorer.widgets.gallery import THUMB_PX

MODES = (("pan / zoom", "pan"), ("box select", "rectangle"), ("lasso", "freeform"))


class Atlas(Panel):
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

    Test handles: ``points`` (sample keys in plot order), ``selection`` (settable list of keys; [] or
    None clears), ``explorer``, ``scatter`` (the ``jscatter.Scatter``) and ``scatter_widget``,
    ``depth_image``, ``depth_curve``, ``depth_by_class``, ``depth_layer``, ``confusion_buttons``
    (``{(true, predicted): Button}``), ``triage_filter``, ``triage_sort``, ``triage_apply``,
    ``verdict_buttons`` (``{verdict: Button}``), ``verdict_clear``, ``verdict_note``, ``verdicts``,
    ``export_path``, ``export_button``, ``export_result``, ``mean_block``, ``mean_image``,
    ``hover_image``, ``hover_text``, ``highlighted`` (key of the point outlined), ``compute_button``,
    ``progress``, ``error``, :meth:`wait`.
    """

    def __init__(
        self,
        run_or_path: Any,
        *,
        explorer: Any = None,
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
        self.data: Any = None
        self.scatter: Any = None
        self.scatter_widget: Any = None
        self._points: list[av.AtlasPoint] = []
        self._index: dict[str, int] = {}
        self._selection: list[str] = []
        self.highlighted: str | None = None
        self._muted = False
        self._hover_cache: LRUCache[bytes] = LRUCache(64)
        self._pending_figures: list[Any] = []
        self.verdicts = Verdicts(self.run.path)

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
        self._build_compute_box()
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
        return list(self._selection)

    @selection.setter
    def selection(self, keys: Sequence[str] | None) -> None:
        wanted = list(keys or [])
        unknown = [k for k in wanted if k not in self._index]
        if unknown:
            raise KeyError(f"{len(unknown)} key(s) are not points of the atlas, e.g. {unknown[0]!r}")
        indices = sorted({self._index[k] for k in wanted})
        self._set_scatter_selection(indices)
        self._apply_selection(indices, ordered=wanted if len(wanted) == len(indices) else None)

    @property
    def explorer(self) -> Any:
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
            self._link(self._explorer)
        return self._explorer

    def clear_selection(self) -> None:
        """Select nothing: the gallery shows every image again."""
        self.selection = None

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
            self.data = None
            self._points, self._index = [], {}
            self.counts.value = ""
            self.body.children = [self.compute_box]
            return
        self._show_atlas(atlas)
        if self._explorer is not None:
            self._link(self._explorer)

    def open(self, key: str) -> None:
        """Open the image ``key`` in the Explorer (its layer slider, CAM and prediction)."""
        self.explorer.sample = key
        if isinstance(self.root, W.Tab):
            self.root.selected_index = 0

    def _as_tabs(self) -> None:
        """The Explorer and the Atlas as the two tabs of :attr:`root`."""
        explorer = self.explorer
        self.explorer_slot.children = []
        atlas_view = self.root
        self.root = W.Tab(children=[explorer.root, atlas_view], titles=("Explorer", "Atlas"))
        self.root.add_class("cvd-atlas-tabs-panel")

    # ------------------------------------------------------------------ without an atlas
    def _build_compute_box(self) -> None:
        command = f"cvd-explorer atlas {self.run.path}"
        self.compute_button = W.Button(description="compute atlas", icon="play", button_style="primary",
                                       layout=W.Layout(width="160px"))
        self.compute_button.add_class("cvd-atlas-compute")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="", layout=W.Layout(width="320px"))
        self.progress_text = W.HTML("")
        self.compute_box = W.VBox([
            W.HTML(f"This run has no current atlas of its {html.escape(self._split)} split (none computed yet, or "
                   "computed for another model or manifest). Compute it here, or in a terminal with "
                   f"<code>{html.escape(command)}</code>."),
            W.HBox([self.compute_button, self.progress, self.progress_text], layout=W.Layout(align_items="center")),
        ])
        self.compute_button.on_click(self.errors.guard("compute atlas")(lambda _b: self.compute()))

    def compute(self) -> None:
        """Compute the atlas on the worker thread, with the progress bar; shows it when done."""
        from cvd_explorer.atlas import compute_atlas
        from cvd_explorer.quiet_tf import import_tensorflow

        import_tensorflow()
        self.compute_button.disabled = True
        self.errors.clear()

        def progress(done: int, total: int) -> None:
            self.progress.max = max(total, 1)
            self.progress.value = done
            self.progress_text.value = f"{done:,} / {total:,} images"

        def finished(atlas: Any) -> None:
            self.compute_button.disabled = False
            self._show_atlas(atlas)
            if self._explorer is not None:
                self._link(self._explorer)

        def failed(exc: BaseException) -> None:
            self.compute_button.disabled = False
            self.errors.show(exc, "atlas")

        self.worker.submit(lambda: compute_atlas(self.run, self._split, self._method, progress=progress),
                           finished, failed, label="computing the atlas")

    # ------------------------------------------------------------------ with an atlas
    def _show_atlas(self, atlas: Any) -> None:
        self.data = atlas
        run = self.run
        keys = {r["relpath"]: r["path"] for r in (run.predictions or [])}
        self._points = av.atlas_points(atlas.rows, lambda p: keys.get(p) or str(run.image_path(p)))
        self._index = {p.key: p.index for p in self._points}
        self._selection = []
        classes = list(run.classes)
        wrong = sum(not p.correct for p in self._points)
        self.counts.value = (
            f"{len(self._points):,} {html.escape(atlas.split)} images · {wrong:,} misclassified · "
            f"{sum(p.suspect for p in self._points):,} suspected label errors · "
            f"{sum(p.copy_elsewhere for p in self._points):,} with a copy in another split · "
            f"{html.escape(atlas.method)}")
        self.scatter = build_scatter(self._points, classes)
        self.scatter_widget = self.scatter.widget
        self.scatter_widget.observe(self.errors.guard("selection")(self._on_scatter_selection), "selection")
        self.scatter_widget.observe(self.errors.guard("hover")(self._on_hover), "hovering")
        self.scatter_widget.observe(self.errors.guard("render")(self._on_rendered), "dom_element_id")
        self.body.children = [
            W.HBox([W.VBox([self._mode_bar(), self.scatter_widget], layout=W.Layout(width="62%")),
                    self._side_column()], layout=W.Layout(grid_gap="12px")),
            self._tabs(classes),
        ]
        self._draw_figures()
        if self._explorer is None:
            open_button = W.Button(description="open the Explorer", icon="search", layout=W.Layout(width="180px"))
            open_button.on_click(self.errors.guard("open the Explorer")(lambda _b: self.explorer))
            self.explorer_slot.children = [W.HBox([open_button, W.HTML(
                "The Explorer opens with the first image you select (click a point or select a group); "
                "it loads the model.")], layout=W.Layout(align_items="center", grid_gap="8px"))]

    def _mode_bar(self) -> W.Widget:
        self.mode = W.ToggleButtons(options=list(MODES), value="pan", description="mouse",
                                    style={"button_width": "90px"})
        self.mode.add_class("cvd-atlas-mode")
        self.mode.observe(self.errors.guard("mouse mode")(self._on_mode), "value")
        self.clear_button = W.Button(description="clear selection", icon="times", layout=W.Layout(width="140px"))
        self.clear_button.add_class("cvd-atlas-clear")
        self.clear_button.on_click(self.errors.guard("clear selection")(lambda _b: self.clear_selection()))
        return W.HBox([self.mode, self.clear_button], layout=W.Layout(align_items="center"))

    def _on_mode(self, change: dict[str, Any]) -> None:
        value = change["new"]
        if value == "pan":
            self.scatter_widget.mouse_mode = "panZoom"
        else:
            self.scatter_widget.lasso_type = value
            self.scatter_widget.mouse_mode = "lasso"

    def _side_column(self) -> W.Widget:
        self.hover_image = W.Image(format="jpeg", width=THUMB_PX, height=THUMB_PX)
        self.hover_image.add_class("cvd-atlas-hover-image")
        self.hover_text = W.HTML("<i>hover a point to see its image</i>")
        self.hover_text.add_class("cvd-atlas-hover")
        self.rendered = W.HTML("")
        self.rendered.add_class("cvd-atlas-rendered")
        self.selection_text = W.HTML("no selection: the gallery shows every image")
        self.selection_text.add_class("cvd-atlas-selection")
        self.verdict_target = W.HTML("")
        self.verdict_buttons = {v: W.Button(description=v, layout=W.Layout(width="150px")) for v in VERDICTS}
        for verdict, button in self.verdict_buttons.items():
            button.add_class("cvd-verdict")
            button.on_click(self.errors.guard("verdict")(lambda _b, v=verdict: self.set_verdict(v)))
        self.verdict_clear = W.Button(description="no verdict", layout=W.Layout(width="150px"))
        self.verdict_clear.on_click(self.errors.guard("verdict")(lambda _b: self.set_verdict(None)))
        self.verdict_note = W.Text(placeholder="note (optional)", layout=W.Layout(width="300px"))
        return W.VBox([
            W.HTML("<b>under the mouse</b>"), W.HBox([self.hover_image, self.hover_text]),
            W.HTML("<b>selection</b>"), self.selection_text, self.rendered,
            W.HTML("<b>verdict on the Explorer's image</b>"), self.verdict_target,
            W.HBox([*self.verdict_buttons.values()], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.verdict_clear, self.verdict_note]),
        ], layout=W.Layout(width="38%"))

    def _tabs(self, classes: list[str]) -> W.Widget:
        tabs = W.Tab(children=[self._depth_tab(), self._confusion_tab(classes), self._triage_tab(),
                               self._mean_tab(classes)],
                     titles=("depth curves", "confusion matrix", "triage", "mean CAM"))
        tabs.add_class("cvd-atlas-tabs")
        return tabs

    # ------------------------------------------------------------------ depth curves
    def _depth_tab(self) -> W.Widget:
        depth = self.data.depth
        curves = av.available_curves(depth)
        self.depth_curve = W.Dropdown(options=[(av.DEPTH_CURVES[c], c) for c in curves],
                                      value=curves[0] if curves else None, description="curve",
                                      layout=W.Layout(width="460px"), style={"description_width": "50px"})
        self.depth_by_class = W.Checkbox(value=False, description="per class", indent=False)
        layers = list(depth.layers or self.data.layers)
        self.depth_layer = W.SelectionSlider(options=layers or ["(no layers)"], value=layers[-1] if layers else
                                             "(no layers)", description="layer", continuous_update=False,
                                             layout=W.Layout(width="620px"))
        self.depth_layer.add_class("cvd-atlas-depth-layer")
        self.depth_image = W.Image(format="png")
        self.depth_image.add_class("cvd-atlas-depth")
        guard = self.errors.guard
        self.depth_curve.observe(guard("depth curve")(lambda _c: self._draw_depth()), "value")
        self.depth_by_class.observe(guard("depth curve")(lambda _c: self._draw_depth()), "value")
        self.depth_layer.observe(guard("depth layer")(self._on_depth_layer), "value")
        self._figures(self._draw_depth)
        note = W.HTML("<small>Mean per layer with its 95% interval, correct vs misclassified images. The slider "
                      "under the plot moves the Explorer's layer slider (clicks on the picture do not reach "
                      "the kernel).</small>")
        return W.VBox([W.HBox([self.depth_curve, self.depth_by_class]), self.depth_image, self.depth_layer, note])

    def _figures(self, draw: Any) -> None:
        """Queue a first drawing of a figure (see :meth:`_draw_figures`)."""
        self._pending_figures.append(draw)

    def _draw_figures(self) -> None:
        """Draw the queued figures, one after the other on a thread of their own so that the scatter
        shows at once (``background=False``: here and now)."""
        draws, self._pending_figures = self._pending_figures, []

        def run() -> None:
            for draw in draws:
                self.errors.guard("figure")(draw)()

        if not self._background:
            run()
            return
        import threading

        threading.Thread(target=run, name="cvd-atlas-figures", daemon=True).start()

    def _draw_depth(self) -> None:
        depth = self.data.depth
        curve = self.depth_curve.value
        if not curve:
            self.depth_image.value = b""
            return
        series = av.depth_series(depth, curve, by_class=self.depth_by_class.value)
        self.depth_image.value = depth_png(series, list(depth.layers), title=av.DEPTH_CURVES[curve],
                                           classes=list(self.run.classes), marker=self.depth_layer.value)

    def _on_depth_layer(self, change: dict[str, Any]) -> None:
        self._draw_depth()
        if self._muted:
            return
        layer = change["new"]
        explorer = self.explorer
        if explorer.layer_kind.value != "conv":
            explorer.layer_kind.value = "conv"
        if layer in explorer.layer.options:
            explorer.layer.value = layer

    def _on_explorer_layer(self, change: dict[str, Any]) -> None:
        layer = change["new"]
        if layer in self.depth_layer.options and layer != self.depth_layer.value:
            self._muted = True
            try:
                self.depth_layer.value = layer
            finally:
                self._muted = False

    # ------------------------------------------------------------------ confusion matrix
    def _confusion_tab(self, classes: list[str]) -> W.Widget:
        cells = av.confusion_cells(self._points, classes)
        self.confusion_buttons: dict[tuple[str, str], W.Button] = {}
        grid: list[W.Widget] = [W.HTML("<b>true ↓ / predicted →</b>"), *[W.HTML(f"<b>{html.escape(c)}</b>")
                                                                        for c in classes]]
        for t in classes:
            grid.append(W.HTML(f"<b>{html.escape(t)}</b>"))
            for p in classes:
                keys = cells[(t, p)]
                button = W.Button(description=f"{len(keys):,}", button_style="success" if t == p else "danger",
                                  tooltip=f"true {t}, predicted {p}: show these {len(keys)} images in the gallery",
                                  layout=W.Layout(width="120px", height="40px"))
                button.disabled = not keys
                button.add_class("cvd-confusion-cell")
                button.on_click(self.errors.guard("confusion cell")(lambda _b, k=keys: self._select_keys(k)))
                self.confusion_buttons[(t, p)] = button
                grid.append(button)
        box = W.GridBox(grid, layout=W.Layout(grid_template_columns=f"180px repeat({len(classes)}, 130px)",
                                               grid_gap="4px"))
        return W.VBox([box, W.HTML("<small>A cell selects its images: the gallery shows them.</small>")])

    def _select_keys(self, keys: Sequence[str]) -> None:
        self.selection = list(keys)

    # ------------------------------------------------------------------ triage
    def _triage_tab(self) -> W.Widget:
        self.triage_filter = W.Dropdown(options=list(av.TRIAGE_FILTERS), value="suspected label error",
                                        description="show", layout=W.Layout(width="300px"))
        self.triage_sort = W.Dropdown(options=list(av.TRIAGE_SORTS), value="label-issue score",
                                      description="sort by", layout=W.Layout(width="300px"))
        self.triage_apply = W.Button(description="select in the gallery", icon="filter",
                                     layout=W.Layout(width="200px"))
        self.triage_apply.add_class("cvd-triage-apply")
        self.triage_apply.on_click(self.errors.guard("triage")(lambda _b: self.apply_triage()))
        self.triage_text = W.HTML("")
        self.export_path = W.Text(value=str(self.run.path / "atlas" / "verdicts-export.csv"), description="export",
                                  layout=W.Layout(width="560px"))
        self.export_button = W.Button(description="export verdicts", icon="save", layout=W.Layout(width="160px"))
        self.export_button.on_click(self.errors.guard("export verdicts")(lambda _b: self.export_verdicts()))
        self.export_result = W.HTML("")
        self._update_triage_text()
        return W.VBox([
            W.HBox([self.triage_filter, self.triage_sort, self.triage_apply]),
            self.triage_text,
            W.HTML("<small>Badges in the gallery: ⚑ suspected label error (cleanlab), ⧉ copy in another split, "
                   "✎ verdict given. Verdicts are saved in <code>RUN/atlas/verdicts.csv</code>; the export is read "
                   "by <code>cvd-explorer split DATA --exclude VERDICTS.csv</code>.</small>"),
            W.HBox([self.export_path, self.export_button]), self.export_result,
        ])

    def apply_triage(self) -> list[str]:
        """Select the images passing the triage filter, in the triage order (the gallery follows
        that order); returns their keys."""
        kept = av.triage(self._points, self.triage_filter.value, self.triage_sort.value, self.verdicts.as_dict())
        keys = [p.key for p in kept]
        if keys and self.triage_sort.value != "plot order":
            self.explorer.sort.value = "selection"
        self.selection = keys
        return keys

    def _update_triage_text(self) -> None:
        counts = self.verdicts.counts()
        given = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "none yet"
        self.triage_text.value = f"verdicts: {html.escape(given)}"

    def export_verdicts(self, dest: str | os.PathLike[str] | None = None) -> Path:
        """Write the verdicts as ``path,verdict,label,note,updated`` (default: the export field)."""
        labels = {p.path: p.label for p in self._points}
        path = self.verdicts.export(dest or self.export_path.value, labels)
        self.export_result.value = f"wrote {len(self.verdicts)} verdicts to <code>{html.escape(str(path))}</code>"
        return path

    def set_verdict(self, verdict: str | None, key: str | None = None) -> None:
        """Record a verdict (one of :data:`~cvd_explorer.explore.verdicts.VERDICTS`, None removes it)
        on ``key`` (default: the Explorer's current image); saved at once."""
        key = key or (self._explorer.sample if self._explorer is not None else None)
        if key is None or key not in self._index:
            raise ValueError("select an image of the atlas first (click a point or a thumbnail)")
        point = self._points[self._index[key]]
        self.verdicts.set(point.path, verdict, self.verdict_note.value)
        self.verdict_note.value = ""
        self._show_verdict(key)
        self._update_triage_text()
        if self._explorer is not None:
            self._explorer.gallery.show_page(self._explorer.gallery.page)

    def _show_verdict(self, key: str | None) -> None:
        if key is None or key not in self._index:
            self.verdict_target.value = "<i>no image selected</i>"
            return
        point = self._points[self._index[key]]
        verdict = self.verdicts.get(point.path)
        said = f"<b>{html.escape(verdict.verdict)}</b>" if verdict else "none yet"
        self.verdict_target.value = f"{html.escape(point.name)}: {said}"
        for name, button in self.verdict_buttons.items():
            button.button_style = "warning" if verdict and verdict.verdict == name else ""

    # ------------------------------------------------------------------ mean CAM
    def _mean_tab(self, classes: list[str]) -> W.Widget:
        blocks = list(self.data.mean_cams["blocks"])
        self.mean_block = W.Dropdown(options=blocks or ["(no blocks)"], value=blocks[-1] if blocks else "(no blocks)",
                                     description="block", layout=W.Layout(width="320px"))
        self.mean_image = W.Image(format="png")
        self.mean_image.add_class("cvd-atlas-mean")
        self.mean_block.observe(self.errors.guard("mean CAM")(lambda _c: self._draw_mean(classes)), "value")
        self._figures(lambda: self._draw_mean(classes))
        return W.VBox([self.mean_block, self.mean_image, W.HTML(
            "<small>Where the model looks on average: the mean unit-mass map of each group at the block's "
            "output (every image weighs the same).</small>")])

    def _draw_mean(self, classes: list[str]) -> None:
        block = self.mean_block.value
        if block not in self.data.mean_cams["blocks"]:
            self.mean_image.value = b""
            return
        maps, titles = [], []
        for group in av.mean_cam_groups(classes):
            values, n = self.data.mean_cam(block, group)
            maps.append(values)
            titles.append(f"{group} (n={n})")
        self.mean_image.value = mean_cams_png(maps, titles)

    # ------------------------------------------------------------------ linking
    def _link(self, explorer: Any) -> None:
        """Follow the Explorer's selected image (highlight its point, its verdict) and mark its
        gallery's thumbnails with the triage flags."""
        if self._on_explorer_select not in explorer.on_select:
            explorer.on_select.append(self._on_explorer_select)
            explorer.layer.observe(self.errors.guard("layer")(self._on_explorer_layer), "value")
        explorer.gallery.extra_badge = self._extra_badge
        explorer.gallery.show_page(explorer.gallery.page)
        if explorer.sample is not None:
            self._on_explorer_select(explorer.sample)

    def _on_explorer_select(self, key: str) -> None:
        i = self._index.get(key)
        self.highlighted = None if i is None else key
        if self.scatter is not None:
            highlight(self.scatter, None if i is None else self._points[i])
        if hasattr(self, "verdict_target"):
            self._show_verdict(key)

    def _extra_badge(self, row: SampleRow) -> tuple[str, str]:
        i = self._index.get(row.key)
        if i is None:
            return "", ""
        point = self._points[i]
        verdict = self.verdicts.get(point.path)
        marks = ("⚑" if point.suspect else "") + ("⧉" if point.copy_elsewhere else "") + ("✎" if verdict else "")
        return marks, "; ".join(av.flags(point, verdict.verdict if verdict else None)[0 if point.correct else 1:])

    # ------------------------------------------------------------------ selection
    def _set_scatter_selection(self, indices: list[int]) -> None:
        if self.scatter_widget is None:
            return
        import numpy as np

        self._muted = True
        try:
            self.scatter_widget.selection = np.asarray(indices, np.uint32) if indices else None
        finally:
            self._muted = False

    def _on_scatter_selection(self, change: dict[str, Any]) -> None:
        if self._muted:
            return
        self._apply_selection(selected_indices(change["new"]))

    def _apply_selection(self, indices: list[int], ordered: list[str] | None = None) -> None:
        """The gallery shows exactly the selected points (in ``ordered`` when given); one point is a
        click: it is also opened in the Explorer."""
        keys = av.restrict_keys(self._points, indices)
        self._selection = keys
        if not keys:
            self.selection_text.value = "no selection: the gallery shows every image"
            if self._explorer is not None:
                self._explorer.restrict(None)
            return
        wrong = sum(not self._points[i].correct for i in indices)
        self.selection_text.value = (f"<b>{len(keys):,}</b> selected ({wrong:,} misclassified): the gallery shows "
                                     "them")
        explorer = self.explorer
        explorer.restrict(ordered or keys)
        if len(keys) == 1:
            self.open(keys[0])

    def _on_rendered(self, _change: dict[str, Any]) -> None:
        """The browser drew the scatter (its view sets ``dom_element_id``): say how many points it got."""
        points = self.scatter_widget.points
        n = 0 if points is None else len(points)
        self.rendered.value = f"<small>{n:,} points drawn</small>"

    # ------------------------------------------------------------------ hover
    def _on_hover(self, change: dict[str, Any]) -> None:
        i = change["new"]
        if i is None or not 0 <= int(i) < len(self._points):
            return
        point = self._points[int(i)]
        verdict = self.verdicts.get(point.path)
        self.hover_text.value = html.escape(av.badge_text(point, verdict.verdict if verdict else None))
        self.hover_image.value = self._hover_thumb(point)

    def _hover_thumb(self, point: av.AtlasPoint) -> bytes:
        hit = self._hover_cache.get(point.key)
        if hit is None:
            from cvd_explorer.data.loader import load_image
            from cvd_explorer.explore.views import thumbnail_jpeg

            try:
                hit = thumbnail_jpeg(load_image(point.key), THUMB_PX)
            except Exception:  # a broken image shows the broken-image tile; its error shows when opened
                hit = thumbnail_jpeg(None, THUMB_PX)
            self._hover_cache.put(point.key, hit)
        return hit
