"""The Explorer: slide through a CNN's layers on one image at a time, misclassified images first.

Layout, top to bottom: the source and sample counts; the error area; filters (prediction,
true class, sort); a paged gallery; the layer controls (conv layers or block outputs, a layer
slider with name, depth index and output shape); CAM controls (method, target, opacity) and
feature-grid controls (top k, order); the views (CAM overlay with a note when the layer has no
positive evidence for the target, feature-map grid, prediction); the depth strip; export.

Selecting a sample runs the engine once for every layer (off the kernel's main thread, with a
busy indicator); the result goes into the session's LRU cache and every later slider step only
composes arrays and encodes a PNG into an ``ipywidgets.Image``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from cvd_explorer.explain.registry import DEFAULT_METHOD, SPECS, method_spec
from cvd_explorer.explore import views
from cvd_explorer.explore.samples import PREDICTION_FILTERS, SampleRow, count_text, filter_rows, restrict_rows
from cvd_explorer.explore.session import SampleExplanation, Session
from cvd_explorer.render import to_png
from cvd_explorer.widgets._panel import Panel
from cvd_explorer.widgets.explorer_html import prediction_html, titled
from cvd_explorer.widgets.explorer_probes import ProbeControls
from cvd_explorer.widgets.gallery import Gallery

_NO_LAYERS = "(no layers)"


class Explorer(Panel):
    """Interactive view of what each layer of a model looks at, per image.

    Args:
        run_or_path: a :class:`~cvd_explorer.runs.Run` or its directory. Omit it and pass
            ``model`` and ``images`` instead to explore arrays.
        model: a Keras model (RGB 0-255 in, P(positive) out) when there is no run.
        images: uint8 or float ``(N, S, S, 3)`` RGB 0-255, with ``model``.
        labels: per image a class name or 0/1 (1 = ``classes[1]``), with ``model``.
        paths: per image a path or name, with ``model``.
        classes: ``(negative, positive)`` class names, with ``model``.
        data_root: image folder of a run copied from another machine.
        background: compute explanations on a worker thread (False: synchronously, for tests).
        cache_size: samples whose explanations are kept.
        per_page: thumbnails per gallery page.

    Test handles: ``filter``, ``class_filter``, ``sort``, ``samples``, ``sample``, ``layer``,
    ``layer_kind``, ``feature_image``, ``cam_image``, ``strip_image``, ``method``, ``target``,
    ``opacity``, ``top_k``, ``order``, ``count``, ``prediction``, ``cam_note``, ``method_note``, ``error``,
    ``busy``, ``export_folder``, ``export_button``, ``export_result``, ``probes`` (the epoch slider of probe
    images: :class:`~cvd_explorer.widgets.explorer_probes.ProbeControls`), :meth:`wait`, :meth:`restrict`,
    ``on_select`` (callbacks called with the key of each selected sample).
    """

    def __init__(
        self,
        run_or_path: Any = None,
        *,
        model: Any = None,
        images: Any = None,
        labels: Sequence[Any] | None = None,
        paths: Sequence[str | os.PathLike[str]] | None = None,
        classes: tuple[str, str] = ("cat", "dog"),
        data_root: str | os.PathLike[str] | None = None,
        background: bool = True,
        cache_size: int = 8,
        per_page: int = 12,
    ) -> None:
        super().__init__(background=background, reload_tooltip="re-read the run (e.g. after training ends)")
        self._source = (run_or_path, model, images, labels, paths, (str(classes[0]), str(classes[1])), data_root)
        self._cache_size = int(cache_size)
        self.session: Session | None = None
        self._rows: list[SampleRow] = []
        self._row: SampleRow | None = None
        self._current: SampleExplanation | None = None
        self._display: np.ndarray | None = None
        self._display_key: str | None = None
        self._last_cam: np.ndarray | None = None
        self._last_feature: np.ndarray | None = None
        self._restricted: tuple[str, ...] | None = None
        self.on_select: list[Callable[[str], None]] = []

        self.title = W.HTML("<b>Explorer</b>")
        self.count = W.HTML("")
        self.count.add_class("cvd-count")
        self.filter = W.ToggleButtons(options=list(PREDICTION_FILTERS), value="all", description="prediction")
        self.filter.add_class("cvd-filter")
        self.class_filter = W.Dropdown(options=["all", *classes], value="all", description="true class",
                                       layout=W.Layout(width="200px"))
        self.sort = W.Dropdown(
            options=[("confidence", "confidence"), ("loss", "loss"), ("file name", "name"),
                     ("atlas order", "selection")],
            value="name",
            description="sort by", layout=W.Layout(width="220px"),
        )
        self.gallery = Gallery(self._thumbnail, self._on_thumb, per_page=per_page)

        self.layer_kind = W.ToggleButtons(options=[("conv layers", "conv"), ("block outputs", "blocks")],
                                          value="conv", description="layers")
        self.layer = W.SelectionSlider(options=[_NO_LAYERS], description="layer", continuous_update=True,
                                       readout=False, layout=W.Layout(width="520px"))
        self.layer.add_class("cvd-layer")
        self.layer_label = W.HTML("")
        self.layer_label.add_class("cvd-layer-label")
        self.probes = ProbeControls()  # epoch slider: probe images of a run with probes
        self.method_note = W.HTML("")  # what the layer slider does for a pixel method
        self.method_note.add_class("cvd-method-note")
        self.method = W.Dropdown(options=[(spec.label, spec.name) for spec in SPECS], value=DEFAULT_METHOD,
                                 description="method",
                                 layout=W.Layout(width="220px"))
        self.target = W.Dropdown(options=["predicted", *classes], value="predicted", description="target",
                                 layout=W.Layout(width="200px"))
        self.opacity = W.FloatSlider(value=0.4, min=0.0, max=1.0, step=0.05, description="opacity",
                                     continuous_update=True, layout=W.Layout(width="260px"))
        self.top_k = W.IntSlider(value=16, min=1, max=64, description="top k", continuous_update=True,
                                 layout=W.Layout(width="260px"))
        self.order = W.Dropdown(options=[("mean activation", "activation"), ("CAM weight", "cam-weight")],
                                value="activation", description="order", layout=W.Layout(width="240px"))
        self.strip_n = W.IntSlider(value=8, min=2, max=16, description="strip layers",
                                   continuous_update=False, layout=W.Layout(width="260px"))

        self.cam_image = W.Image(format="png", width=256)
        self.cam_image.add_class("cvd-cam")
        self.cam_note = W.HTML("")
        self.cam_note.add_class("cvd-cam-note")
        self.feature_image = W.Image(format="png", width=320)
        self.feature_image.add_class("cvd-features")
        self.strip_image = W.Image(format="png")
        self.strip_image.add_class("cvd-strip")
        self.prediction = W.HTML("")
        self.prediction.add_class("cvd-prediction")

        self.export_folder = W.Text(value="explorer-export", description="folder", layout=W.Layout(width="320px"))
        self.export_button = W.Button(description="export view", icon="save")
        self.export_result = W.HTML("")

        self.root = W.VBox(
            [
                W.HBox([self.title, self.count, self.reload_button], layout=W.Layout(align_items="center",
                                                                                    grid_gap="12px")),
                self.error,
                W.HBox([self.filter, self.class_filter, self.sort]),
                self.gallery.widget,
                W.HBox([self.layer_kind, self.busy]),
                W.HBox([self.layer, self.layer_label, self.method_note], layout=W.Layout(align_items="center")),
                self.probes.widget,
                W.HBox([self.method, self.target, self.opacity]),
                W.HBox([self.top_k, self.order, self.strip_n]),
                W.HBox(
                    [
                        titled("CAM overlay", W.VBox([self.cam_image, self.cam_note])),
                        titled("feature maps", self.feature_image),
                        titled("prediction", self.prediction),
                    ],
                    layout=W.Layout(grid_gap="12px"),
                ),
                titled("CAM across depth", self.strip_image),
                W.HBox([self.export_folder, self.export_button, self.export_result], layout=W.Layout(
                    align_items="center")),
            ]
        )
        self.root.add_class("cvd-explorer")

        guard = self.errors.guard
        self.filter.observe(guard("filter")(self._on_filter), "value")
        self.class_filter.observe(guard("class filter")(self._on_filter), "value")
        self.sort.observe(guard("sort")(self._on_filter), "value")
        self.layer_kind.observe(guard("layer kind")(self._on_layer_kind), "value")
        self.layer.observe(guard("layer")(self._on_layer), "value")
        self.method.observe(guard("method")(self._on_explain_settings), "value")
        self.target.observe(guard("target")(self._on_explain_settings), "value")
        self.opacity.observe(guard("opacity")(self._on_cam_settings), "value")
        self.top_k.observe(guard("top k")(self._on_feature_settings), "value")
        self.order.observe(guard("order")(self._on_feature_settings), "value")
        self.strip_n.observe(guard("depth strip")(self._on_strip_settings), "value")
        self.export_button.on_click(guard("export")(lambda _b: self.export()))
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

    def restrict(self, keys: Iterable[str] | None) -> None:
        """Show only the samples with these keys (an Atlas selection), the filters still applying
        on top; None shows every sample again."""
        self._restricted = None if keys is None else tuple(keys)
        self._refilter()

    @property
    def restricted(self) -> tuple[str, ...] | None:
        """The keys the gallery is restricted to, in the Atlas's order (see :meth:`restrict`), or None."""
        return self._restricted

    def reload(self) -> None:
        """(Re)open the source: read the run again, rebuild the sample table and layer list."""
        self.errors.clear()
        try:
            self.session = self._open()
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
            self.prediction.value = prediction_html(row, self.session.classes[1] if self.session else "positive")
            self.errors.clear()
            self._show_probes()
        self._request()

    def export(self, folder: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
        """Write the current view as PNG and its arrays as ``.npz``; returns the two paths."""
        se, layer = self._current, self.layer.value
        if se is None or layer not in se.layers:
            raise ValueError("nothing to export yet: select a sample and wait for its views")
        cam = self._last_cam if self._last_cam is not None else views.cam_view(se, layer, self.opacity.value)
        feats = self._last_feature if self._last_feature is not None else views.feature_view(se, layer)
        png, npz = views.export(folder or self.export_folder.value, se, layer, views.side_by_side(cam, feats))
        written = " and ".join(f"<code>{html.escape(str(p))}</code>" for p in (png, npz))
        self.export_result.value = f"wrote {written}"
        return png, npz

    # ------------------------------------------------------------------ opening
    def _open(self) -> Session:
        run_or_path, model, images, labels, paths, classes, data_root = self._source
        if run_or_path is not None and model is not None:
            raise ValueError("pass either a run or model= and images=, not both")
        if run_or_path is None:
            if model is None or images is None:
                raise ValueError("nothing to explore: pass a run directory, or model= and images=")
            self.probes.open(None)
            return Session.from_arrays(model, images, labels, paths, classes, cache_size=self._cache_size)
        from cvd_explorer.runs.run import Run

        run = run_or_path if isinstance(run_or_path, Run) else Run(run_or_path, data_root=data_root)
        session = Session.from_run(run, cache_size=self._cache_size)
        self.probes.open(run)
        return session

    def _set_options(self, classes: tuple[str, str]) -> None:
        self.class_filter.options = ["all", *classes]
        self.class_filter.value = "all"
        self.target.options = ["predicted", *classes]
        self.target.value = "predicted"

    def _set_enabled(self, on: bool) -> None:
        for w in (self.filter, self.class_filter, self.sort, self.layer_kind, self.layer, self.method, self.target,
                  self.opacity, self.top_k, self.order, self.strip_n, self.export_button):
            w.disabled = not on

    # ------------------------------------------------------------------ filters and gallery
    def _refilter(self) -> None:
        if self.session is None:
            return
        label = None if self.class_filter.value == "all" else self.class_filter.value
        rows = restrict_rows(self.session.rows, self._restricted)
        self._rows = filter_rows(rows, self.filter.value, label, self.sort.value)
        selected = None if self._restricted is None else len(rows)
        text = count_text(len(self._rows), len(self.session.rows), self.filter.value, label, selected)
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

    def _refresh_layers(self) -> None:
        names = self.session.layer_sets.get(self.layer_kind.value, ()) if self.session else ()
        previous = self.layer.value

        def apply() -> None:
            self.layer.options = list(names) if names else [_NO_LAYERS]
            self.layer.value = previous if previous in names else (names[-1] if names else _NO_LAYERS)

        self._set_quiet(apply)
        self.layer.disabled = not names
        self._update_layer_label()

    def _update_layer_label(self) -> None:
        name = self.layer.value
        if name == _NO_LAYERS or self.session is None:
            self.layer_label.value = ""
            return
        names = list(self.layer.options)
        label = views.layer_label(name, names.index(name), len(names), self.session.layer_shape(name))
        self.layer_label.value = f"<code>{html.escape(label)}</code>"

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
    def _on_explain_settings(self, _change: dict[str, Any]) -> None:
        note = views.layer_note(self.method.value)
        self.method_note.value = f"<i style='color:#555'>{html.escape(note)}</i>" if note else ""
        if not self._quiet:
            self._request()

    def _on_cam_settings(self, _change: dict[str, Any]) -> None:
        se = self._current
        if se is not None and self.layer.value in se.layers:
            with self._ui:
                self._last_cam = views.cam_view(se, self.layer.value, self.opacity.value, self._display)
                self.cam_image.value = to_png(self._last_cam)

    def _on_feature_settings(self, _change: dict[str, Any]) -> None:
        se = self._current
        if se is not None and self.layer.value in se.layers:
            with self._ui:
                self._last_feature = views.feature_view(se, self.layer.value, self.top_k.value, self.order.value)
                self.feature_image.value = to_png(self._last_feature)

    def _on_strip_settings(self, _change: dict[str, Any]) -> None:
        if self._current is not None:
            with self._ui:
                self.strip_image.value = to_png(views.strip_view(self._current, self.strip_n.value))

    # ------------------------------------------------------------------ computing and drawing
    def _request(self) -> None:
        """Show the selected sample at the current settings: from the cache, or via the worker."""
        session, row = self.session, self._row
        if session is None or row is None:
            return
        kind, layer = self.layer_kind.value, self.layer.value
        if layer == _NO_LAYERS:
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
                self.strip_image.value = to_png(views.strip_view(se, self.strip_n.value))

    def _draw_layer(self, se: SampleExplanation) -> None:
        with self._ui:
            layer = self.layer.value
            self._last_cam = views.cam_view(se, layer, self.opacity.value, self._display)
            self._last_feature = views.feature_view(se, layer, self.top_k.value, self.order.value)
            self.cam_image.value = to_png(self._last_cam)
            self.feature_image.value = to_png(self._last_feature)
            note = views.evidence_note(se, layer)
            self.cam_note.value = f"<span style='color:#9a5b00'>⚠ {html.escape(note)}</span>" if note else ""
            gap = views.pixel_note(se)
            if gap:
                self.cam_note.value += f"<div class='cvd-completeness'>{html.escape(gap)}</div>"

    def _clear_views(self, keep_strip: bool = False) -> None:
        with self._ui:
            self._current = None
            self._last_cam = self._last_feature = None
            self.cam_image.value = b""
            self.cam_note.value = ""
            self.feature_image.value = b""
            if not keep_strip:
                self.strip_image.value = b""
