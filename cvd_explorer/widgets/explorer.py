"""The Explorer: slide through a CNN's layers on one image at a time, misclassified images first.

Layout, top to bottom: the source and sample counts; the error area; filters (prediction, true class,
predicted class, sort) and the clickable confusion matrix; "more like this"; a paged gallery; the layer
controls (conv layers or block outputs, a layer slider with name, depth index and output shape); CAM
controls (method, target, opacity, "top 3") and feature-grid controls (top k, order); the views (CAM overlay
with a note when the layer has no positive evidence for the target, feature-map grid, prediction with the
top classes); the "top 3" CAMs; the depth strip; export.

Selecting a sample runs the engine once for every layer (off the kernel's main thread, with a
busy indicator); the result goes into the session's LRU cache and every later slider step only
composes arrays and encodes a PNG into an ``ipywidgets.Image``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from cvd_explorer.explain.registry import method_spec
from cvd_explorer.explore import views
from cvd_explorer.explore.samples import SampleRow
from cvd_explorer.explore.session import SampleExplanation, Session
from cvd_explorer.widgets._panel import Panel
from cvd_explorer.widgets.explorer_controls import LayerControls, ViewControls
from cvd_explorer.widgets.explorer_filters import FilterBar
from cvd_explorer.widgets.explorer_html import prediction_html
from cvd_explorer.widgets.explorer_options import ExplorerOptions, open_session
from cvd_explorer.widgets.explorer_probes import ProbeControls
from cvd_explorer.widgets.explorer_selection import GallerySelection
from cvd_explorer.widgets.explorer_similar import SimilarControls
from cvd_explorer.widgets.explorer_top import TopView
from cvd_explorer.widgets.explorer_views import ExplanationViews
from cvd_explorer.widgets.gallery import Gallery


class Explorer(Panel, GallerySelection):
    """Interactive view of what each layer of a model looks at, per image.

    Args:
        run_or_path: a :class:`~cvd_explorer.runs.Run` or its directory. Omit it and pass
            ``model`` and ``images`` instead to explore arrays.
        options: an :class:`~cvd_explorer.widgets.explorer_options.ExplorerOptions`; its fields
            are also keyword arguments (``model``, ``images``, ``labels``, ``paths``, ``classes``,
            ``data_root``, ``background``, ``cache_size``, ``per_page``), which win over it.

    Linking (the Atlas uses only these): :meth:`set_layer`, :meth:`restrict`, :meth:`set_badges`,
    :attr:`sample`, ``on_select`` and ``on_layer`` (callbacks called with the key of each selected
    sample, and with the name of the layer shown whenever it changes).

    K classes: :meth:`show_cell` (one confusion cell), ``predicted_filter``, the target "true class".

    Test handles: ``filter``, ``class_filter``, ``predicted_filter``, ``clear_filters``, ``confusion`` (the
    :class:`~cvd_explorer.widgets.confusion_grid.ConfusionGrid`), ``sort``, ``samples``, ``sample``, ``layer``,
    ``layer_kind``, ``feature_image``, ``cam_image``, ``strip_image``, ``method``, ``target``,
    ``opacity``, ``top_k``, ``order``, ``count``, ``prediction``, ``cam_note``, ``method_note``, ``error``,
    ``busy``, ``export_folder``, ``export_button``, ``export_result``, ``gallery``, ``probes`` (the epoch
    slider of probe images: :class:`~cvd_explorer.widgets.explorer_probes.ProbeControls`), ``top`` (the "top 3"
    view: :class:`~cvd_explorer.widgets.explorer_top.TopView`, ``top.toggle``), ``similar`` (:meth:`more_like_this`:
    :class:`~cvd_explorer.widgets.explorer_similar.SimilarControls`), :meth:`wait`.
    """

    def __init__(self, run_or_path: Any = None, *, options: ExplorerOptions | None = None, **kwargs: Any) -> None:
        opts = ExplorerOptions.of(options, kwargs)
        super().__init__(background=opts.background, reload_tooltip="re-read the run (e.g. after training ends)")
        self._source, self.options = run_or_path, opts
        self.session: Session | None = None
        self._rows: list[SampleRow] = []
        self._row: SampleRow | None = None
        self._current: SampleExplanation | None = None
        self._display: np.ndarray | None = None
        self._display_key: str | None = None
        self._restricted: tuple[str, ...] | None = None
        self.on_select: list[Callable[[str], None]] = []
        self.on_layer: list[Callable[[str], None]] = []

        classes = opts.classes
        guard = self.errors.guard
        self.title = W.HTML("<b>Explorer</b>")
        self.count = W.HTML("")
        self.count.add_class("cvd-count")
        self.filters = f = FilterBar(classes, guard("confusion cell")(self.show_cell))
        self.filter, self.class_filter, self.predicted_filter, self.sort = f.filter, f.class_filter, \
            f.predicted_filter, f.sort
        self.clear_filters, self.confusion = f.clear, f.grid
        self.similar = SimilarControls()
        self.gallery = Gallery(self._thumbnail, self._on_thumb, per_page=opts.per_page)

        self.layers = LayerControls()
        self.layer_kind, self.layer, self.layer_label = self.layers.kind, self.layers.slider, self.layers.label
        self.probes = ProbeControls()  # epoch slider: probe images of a run with probes
        self.controls = c = ViewControls(classes)
        self.method, self.target, self.opacity, self.method_note = c.method, c.target, c.opacity, c.method_note
        self.top_k, self.order, self.strip_n = c.top_k, c.order, c.strip_n

        self.pictures = v = ExplanationViews()
        self.cam_image, self.cam_note, self.feature_image = v.cam_image, v.cam_note, v.feature_image
        self.strip_image, self.prediction = v.strip_image, v.prediction
        self.export_folder, self.export_button, self.export_result = v.export_folder, v.export_button, v.export_result
        self.top = TopView(self.worker, self.errors)

        self.root = W.VBox([
            W.HBox([self.title, self.count, self.reload_button], layout=W.Layout(align_items="center",
                                                                                grid_gap="12px")),
            self.error,
            self.filters.widget,
            self.similar.widget,
            self.gallery.widget,
            W.HBox([self.layer_kind, self.busy]),
            W.HBox([self.layer, self.layer_label, self.method_note], layout=W.Layout(align_items="center")),
            self.probes.widget,
            W.HBox([self.method, self.target, self.opacity, self.top.toggle]),
            W.HBox([self.top_k, self.order, self.strip_n]),
            self.pictures.widget, self.top.widget, self.pictures.strip, self.pictures.export_row,
        ])
        self.root.add_class("cvd-explorer")

        for widget, context, handler in (
            (self.filter, "filter", self._on_filter), (self.class_filter, "class filter", self._on_filter),
            (self.predicted_filter, "predicted filter", self._on_filter), (self.top.toggle, "top 3", self._on_top),
            (self.sort, "sort", self._on_filter), (self.layer_kind, "layer kind", self._on_layer_kind),
            (self.layer, "layer", self._on_layer), (self.layer, "layer", self._tell_layer),
            (self.method, "method", self._on_explain_settings), (self.target, "target", self._on_explain_settings),
            (self.opacity, "opacity", self._on_cam_settings), (self.top_k, "top k", self._on_feature_settings),
            (self.order, "order", self._on_feature_settings), (self.strip_n, "depth strip", self._on_strip_settings),
        ):
            widget.observe(guard(context)(handler), "value")
        self.export_button.on_click(guard("export")(lambda _b: self.export()))
        self.clear_filters.on_click(guard("clear filters")(lambda _b: self.show_cell(None, None)))
        self.similar.button.on_click(guard("more like this")(lambda _b: self.more_like_this()))
        self.similar.clear.on_click(guard("clear similar")(lambda _b: self.clear_similar()))
        self.reload()

    # ------------------------------------------------------------------ public API
    @property
    def samples(self) -> list[str]:
        """Keys (image paths, or names for arrays) of the samples passing the filters, in order."""
        return [row.key for row in self._rows]

    @property
    def rows(self) -> list[SampleRow]:
        """The filtered sample rows, in order."""
        return list(self._rows)

    @property
    def sample(self) -> str | None:
        """Key of the selected sample; set it to select another (any sample, filtered or not)."""
        return None if self._row is None else self._row.key

    @sample.setter
    def sample(self, key: str | os.PathLike[str]) -> None:
        if self.session is None:
            raise ValueError("nothing to select: the Explorer has no samples (see its message)")
        self.select(self.session.row(os.fspath(key)))

    @property
    def explanation(self) -> SampleExplanation | None:
        """The cached explanation behind the views shown, or None."""
        return self._current

    # ------------------------------------------------------------------ linking (the Atlas's interface)
    def set_layer(self, name: str) -> bool:
        """Show layer ``name`` (a conv layer or a block output; the layer kind follows).

        Returns:
            False, changing nothing, when the model has no such layer.
        """
        kind = self.layers.kind_of(name, self.session.layer_sets) if self.session else None
        if kind is None:
            return False
        if kind == self.layer_kind.value:
            self.layer.value = name
            return True
        self._set_quiet(lambda: setattr(self.layer_kind, "value", kind))
        self._refresh_layers(prefer=name)
        self._show_probes()
        self._request()
        return True

    def reload(self) -> None:
        """(Re)open the source: read the run again, rebuild the sample table and layer list."""
        self.errors.clear()
        try:
            self.session, run = open_session(self._source, self.options)
            self.probes.open(run)
            self.similar.open(run)
        except Exception as exc:
            self.session = None
            self._rows, self._row, self._current = [], None, None
            self.gallery.set_rows([])
            self.count.value = ""
            self._clear_views()
            self._set_enabled(False)
            self.errors.show(exc, "cannot open")
            return
        self.title.value = f"<b>Explorer</b> · {html.escape(self.session.source)}"
        classes = self.session.classes
        self._set_quiet(lambda: self._set_options(classes))
        self._set_enabled(True)
        self._refresh_layers()
        self._refilter()

    def select(self, row: SampleRow) -> None:
        """Select ``row``: update the prediction panel now and the views once explained."""
        with self._ui:
            self._row = row
            self._current = None
            self.gallery.mark(row.key)
            for callback in self.on_select:
                callback(row.key)
            classes = self.session.classes if self.session else ("negative", "positive")
            self.prediction.value = prediction_html(row, classes[1], classes)
            self.errors.clear()
            self._show_probes()
        self._request()

    def export(self, folder: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
        """Write the current view as PNG and its arrays as ``.npz``; returns the two paths."""
        se, layer = self._current, self.layer.value
        if se is None or layer not in se.layers:
            raise ValueError("nothing to export yet: select a sample and wait for its views")
        return self.pictures.export(folder, se, layer, self.opacity.value)

    # ------------------------------------------------------------------ opening
    def _set_options(self, classes: tuple[str, ...]) -> None:
        self.filters.set_classes(classes)
        labelled = self.session is not None and any(r.label is not None for r in self.session.rows)
        self.controls.set_classes(classes, labelled)

    def _set_enabled(self, on: bool) -> None:
        for w in (*self.filters.widgets, self.layer_kind, self.layer, *self.controls.widgets, self.export_button,
                  self.clear_filters, self.top.toggle):
            w.disabled = not on
    # ------------------------------------------------------------------ filters and gallery
    def _refilter(self) -> None:
        if self.session is None:
            return
        selection = "similar images" if self.similar.active else "atlas selection"
        self._rows, text = self.filters.apply(self.session.rows, self._restricted, selection)
        self.count.value = f"<b>{html.escape(text)}</b>"
        keys = {row.key for row in self._rows}
        self.gallery.set_rows(self._rows)
        if self._row is not None and self._row.key in keys:
            self.gallery.show_page(self.gallery.page_of(self._row.key) or 0)
        elif self._rows:
            self.select(self._rows[0])

    def _thumb_image(self, row: SampleRow) -> np.ndarray:
        if self.session is None:
            raise ValueError("the Explorer has no samples")
        return self.session.image(row)

    # ------------------------------------------------------------------ layers
    def _on_layer_kind(self, _change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self._refresh_layers()
        self._show_probes()
        self._request()

    def _show_probes(self) -> None:
        self.probes.show(self.sample, self.layer_kind.value, self.layer.value)

    def _refresh_layers(self, prefer: str | None = None) -> None:
        names = self.session.layer_sets.get(self.layer_kind.value, ()) if self.session else ()
        self._set_quiet(lambda: self.layers.refresh(names, prefer))
        self._update_layer_label()

    def _update_layer_label(self) -> None:
        self.layers.update_label(self.session.layer_shape if self.session else None)

    def _tell_layer(self, change: dict[str, Any]) -> None:
        """Tell ``on_layer`` the layer shown (also when it changed with the layer kind)."""
        if self.layers.name is None:
            return
        for callback in self.on_layer:
            callback(change["new"])

    def _on_layer(self, _change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self._update_layer_label()
        self._show_probes()
        se = self._current
        if se is not None and self.layer.value in se.layers:
            self._draw_layer(se)
        else:
            self._request()

    # ------------------------------------------------------------------ settings
    def _on_top(self, _change: dict[str, Any]) -> None:
        if self._current is not None:  # else the views' own explanation comes first (then _show draws the top 3)
            self._update_top()

    def _update_top(self) -> None:
        session, row = self.session, self._row
        self.top.update(session, row, self.method.value, self.layer_kind.value, self.layers.name,
                        self.opacity.value, self._display, lambda: self.sample)

    def _on_explain_settings(self, _change: dict[str, Any]) -> None:
        self.controls.update_note()
        if not self._quiet:
            self._request()

    def _on_cam_settings(self, _change: dict[str, Any]) -> None:
        se = self._current
        if se is not None and self.layer.value in se.layers:
            with self._ui:
                self.pictures.draw_cam(se, self.layer.value, self.opacity.value, self._display)
                if self.top.on:
                    self._update_top()

    def _on_feature_settings(self, _change: dict[str, Any]) -> None:
        se = self._current
        if se is not None and self.layer.value in se.layers:
            with self._ui:
                self.pictures.draw_features(se, self.layer.value, self.top_k.value, self.order.value)

    def _on_strip_settings(self, _change: dict[str, Any]) -> None:
        if self._current is not None:
            with self._ui:
                self.pictures.draw_strip(self._current, self.strip_n.value)

    # ------------------------------------------------------------------ computing and drawing
    def _request(self) -> None:
        """Show the selected sample at the current settings: from the cache, or via the worker."""
        session, row = self.session, self._row
        if session is None or row is None:
            return
        kind, layer = self.layer_kind.value, self.layer.value
        if self.layers.name is None:
            self._clear_views()
            what = "Conv2D layers" if kind == "conv" else "residual block outputs"
            self.errors.show(f"model {session.model.name!r} has no {what}; the layer views stay empty")
            return
        method, target = self.method.value, self.target.value
        hit = session.cached(row, method, target, kind, layer)
        if hit is not None:
            self._show(hit)
            return
        per_layer = method_spec(method).per_layer
        self._clear_views(keep_strip=per_layer and self._current_row_is(row))

        def done(se: SampleExplanation) -> None:
            if self._row is not None and self._row.key == se.row.key:
                self._show(se)

        what = f"{method} at {layer}" if per_layer else f"{method}, every layer"
        self.worker.submit(
            lambda: session.explain(row, method, target, kind, layer),
            done,
            lambda exc: self.errors.show(exc, row.name),
            label=f"explaining {row.name} ({what})",
        )

    def _current_row_is(self, row: SampleRow) -> bool:
        return self._current is not None and self._current.row.key == row.key

    def _show(self, se: SampleExplanation) -> None:
        with self._ui:
            per_layer = method_spec(se.method).per_layer
            if per_layer and self.layer.value not in se.layers:
                return  # the slider moved on while a per-layer method (Score-CAM) computed another layer
            same_sample = self._display_key == se.row.key
            if not same_sample:
                self._display = views.display_image(se.image)
                self._display_key = se.row.key
            self._current = se
            self._draw_layer(se)
            if not per_layer or not same_sample:
                self.pictures.draw_strip(se, self.strip_n.value)

    def _draw_layer(self, se: SampleExplanation) -> None:
        with self._ui:
            layer = self.layer.value
            self.pictures.draw_cam(se, layer, self.opacity.value, self._display)
            self.pictures.draw_features(se, layer, self.top_k.value, self.order.value)
            self.pictures.draw_notes(se, layer)
            if self.top.on:
                self._update_top()

    def _clear_views(self, keep_strip: bool = False) -> None:
        with self._ui:
            self._current = None
            self.pictures.clear(keep_strip)
            self.top.clear()
