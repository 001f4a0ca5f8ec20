"""The Compare panel: two training runs side by side, from their results table down to what each
model's layers look at in the same image.

Layout, top to bottom: title and reload; notices (different test sets, missing predictions);
the error area; the results table next to both runs' curves overlaid; the agreement cells on the
test split (each filters the gallery; for K > 2 classes the shared mistakes split by wrong class) with
accuracies, per-class accuracies with Wilson intervals, confusion matrices and McNemar's test in words;
the paired gallery; the relative-depth slider; per run: layer, CAM overlay, prediction (p(positive), or the
top classes for K > 2), feature grid, depth strip.

Selecting a sample explains it once per model at every conv layer (off the kernel's main thread,
with a busy indicator; the Explorer's session caches the result), and each depth step only
composes cached arrays into PNGs. Each model gets the image at its own input size.
"""

from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as W

from cvd_explorer.explore.compare import (
    CELL_TITLES,
    CELL_TOOLTIPS,
    Pair,
    PairedStats,
    Pairing,
    check_classes,
    manifest_hash,
    missing_predictions,
    order_pairs,
    pair_predictions,
    paired_stats,
    results_table,
)
from cvd_explorer.explore.compare_curves import overlaid_curves_png
from cvd_explorer.runs.imported_meta import no_history_note
from cvd_explorer.stats import AGREEMENT_CELLS
from cvd_explorer.widgets._panel import Panel
from cvd_explorer.widgets.compare_atlas import AtlasCompare
from cvd_explorer.widgets.compare_gallery import PairGallery
from cvd_explorer.widgets.compare_html import note, pair_title, results_table_html, stats_html
from cvd_explorer.widgets.compare_side import Side
from cvd_explorer.widgets.gallery import THUMB_PX


class Compare(Panel):
    """Compare two runs (e.g. ResNet50 and ResNet101) on the same test images.

    Args:
        run_a, run_b: :class:`~cvd_explorer.runs.Run` objects or run directories.
        data_root: image folder of runs copied from another machine (applies to both).
        background: explain samples on a worker thread (False: synchronously, for tests).
        cache_size: samples whose explanations each model keeps.
        per_page: thumbnails per gallery page.

    Test handles: ``atlas`` (:class:`~cvd_explorer.widgets.compare_atlas.AtlasCompare`: ``depth_image``,
    ``triage_html``, ``suspects_only``, ``curve``), ``depth`` (IntSlider 0-100), ``agreement``
    (ToggleButtons, value in "all",
    "both_right", "both_wrong", "only_a", "only_b", and for K > 2 classes "both_wrong_same",
    "both_wrong_different"), ``samples``, ``sample``, ``cam_images``
    (pair of ``ipywidgets.Image``), ``layer_labels`` (pair of HTML), ``table`` (list of dict
    rows), ``pairing``, ``stats``, ``notice``, ``error``, ``busy``, :meth:`wait`.
    """

    def __init__(
        self,
        run_a: Any,
        run_b: Any,
        *,
        data_root: str | os.PathLike[str] | None = None,
        background: bool = True,
        cache_size: int = 8,
        per_page: int = 12,
    ) -> None:
        super().__init__(background=background, reload_tooltip="re-read both runs (e.g. after training ends)")
        self._source = (run_a, run_b, data_root)
        self._cache_size = int(cache_size)
        self.sides: tuple[Side, Side] | None = None
        self.pairing: Pairing | None = None
        self.stats: PairedStats | None = None
        self.table: list[dict[str, Any]] = []
        self._pairs: list[Pair] = []
        self._pair: Pair | None = None
        self._current: tuple[Any, Any] | None = None

        self.title = W.HTML("<b>Compare</b>")
        self.notice = W.HTML("")
        self.notice.add_class("cvd-compare-notice")
        self.table_html = W.HTML("")
        self.curves_image = W.Image(format="png", width=720)
        self.curves_image.add_class("cvd-compare-curves")
        self.agreement = W.ToggleButtons(options=[(CELL_TITLES[c], c) for c in AGREEMENT_CELLS], value="all",
                                         description="test images")
        self.agreement.add_class("cvd-agreement")
        self.count = W.HTML("")
        self.count.add_class("cvd-compare-count")
        self.stats_html = W.HTML("")
        self.gallery = PairGallery(self._thumbnail, self._on_thumb, per_page=per_page)
        self.depth = W.IntSlider(value=100, min=0, max=100, step=1, description="depth %",
                                 continuous_update=True, layout=W.Layout(width="520px"))
        self.depth.add_class("cvd-depth")
        self.opacity = W.FloatSlider(value=0.4, min=0.0, max=1.0, step=0.05, description="opacity",
                                     layout=W.Layout(width="260px"))
        self.top_k = W.IntSlider(value=16, min=1, max=64, description="top k", layout=W.Layout(width="260px"))
        self.pair_title = W.HTML(pair_title(None))
        self.atlas = AtlasCompare(self.errors.guard("atlas")(self._refilter))
        self.sides_box = W.HBox([], layout=W.Layout(grid_gap="12px", align_items="flex-start"))

        self.root = W.VBox([
            W.HBox([self.title, self.reload_button, self.busy], layout=W.Layout(align_items="center", grid_gap="12px")),
            self.notice,
            self.error,
            W.HBox([self.table_html, self.curves_image], layout=W.Layout(grid_gap="16px", align_items="flex-start")),
            self.agreement,
            self.count,
            self.stats_html,
            self.atlas.widget,
            self.gallery.widget,
            W.HBox([self.depth, self.opacity, self.top_k]),
            self.pair_title,
            self.sides_box,
        ])
        self.root.add_class("cvd-compare")

        guard = self.errors.guard
        self.agreement.observe(guard("agreement")(self._on_filter), "value")
        self.depth.observe(guard("depth")(self._on_view_settings), "value")
        self.opacity.observe(guard("opacity")(self._on_view_settings), "value")
        self.top_k.observe(guard("top k")(self._on_view_settings), "value")
        self.reload()

    # ------------------------------------------------------------------ public API
    @property
    def cam_images(self) -> tuple[W.Image, W.Image]:
        """The two CAM overlays (run A, run B); empty before the panel opened."""
        if self.sides is None:
            return (W.Image(), W.Image())
        return (self.sides[0].cam_image, self.sides[1].cam_image)

    @property
    def layer_labels(self) -> tuple[W.HTML, W.HTML]:
        """The two layer labels (name · index/total · shape)."""
        if self.sides is None:
            return (W.HTML(), W.HTML())
        return (self.sides[0].layer_label, self.sides[1].layer_label)

    @property
    def samples(self) -> list[str]:
        """Keys (run A's absolute image paths) of the paired samples in the current agreement cell."""
        return [p.key for p in self._pairs]

    @property
    def sample(self) -> str | None:
        """Key of the selected sample; set it (a path, manifest path or file name) to select another."""
        return None if self._pair is None else self._pair.key

    @sample.setter
    def sample(self, key: str | os.PathLike[str]) -> None:
        if self.pairing is None:
            raise ValueError("nothing to select: the runs have no paired predictions (see the panel's notice)")
        text = os.fspath(key)
        matches = [p for p in self.pairing.pairs if p.matches(text)]
        if not matches:
            raise KeyError(f"no shared test image {text!r}")
        self.select(matches[0])

    def layers(self, depth: int | None = None) -> tuple[str | None, str | None]:
        """The layer each model shows at ``depth`` (default: the slider's value)."""
        d = self.depth.value if depth is None else depth
        if self.sides is None:
            return (None, None)
        return (self.sides[0].layer(d), self.sides[1].layer(d))

    def reload(self) -> None:
        """(Re)read both runs: table, curves, pairing, statistics, models; the panel says what is missing."""
        self.errors.clear()
        self.notice.value = ""
        try:
            self._open()
        except Exception as exc:
            self.pairing = self.stats = None
            self._set_pairs([])
            self.errors.show(exc, "cannot open")
            return
        self._refilter()

    def select(self, pair: Pair) -> None:
        """Select ``pair``: predictions now, the views once both models explained it."""
        if self.sides is None:  # not opened: no pair to select
            return
        with self._ui:
            self._pair = pair
            self._current = None
            self.gallery.mark(pair.key)
            self.pair_title.value = pair_title(pair)
            a, b = self.sides
            a.show_prediction(pair.a)
            b.show_prediction(pair.b)
            self.errors.clear()
        self._request()

    # ------------------------------------------------------------------ opening
    def _open(self) -> None:
        from cvd_explorer.runs.run import Run

        run_a, run_b, data_root = self._source
        runs = [r if isinstance(r, Run) else Run(r, data_root=data_root) for r in (run_a, run_b)]
        check_classes(runs[0].classes, runs[1].classes, runs[0].name, runs[1].name)
        if self.sides is not None:
            self.worker.wait(30)
        sides = (Side(runs[0], "a", self._cache_size), Side(runs[1], "b", self._cache_size))
        self.sides = sides
        self.sides_box.children = [s.widget for s in sides]
        na, nb = (s.name for s in sides)
        synthetic = any((r.summary or {}).get("synthetic") for r in runs)
        self.title.value = (f"<b>Compare</b> · A: {html.escape(na)} · B: {html.escape(nb)}"
                            + (" · <i>synthetic data</i>" if synthetic else ""))
        self.gallery.names = ("A", "B")
        self.table = results_table(*runs)
        self.table_html.value = results_table_html(self.table, f"A: {na}", f"B: {nb}")
        self.curves_image.value = overlaid_curves_png([(f"A {na}", runs[0].history), (f"B {nb}", runs[1].history)])

        predictions_a, predictions_b = (r.predictions for r in runs)
        if predictions_a is None or predictions_b is None:
            pairs = zip(runs, (predictions_a, predictions_b), strict=True)
            missing = [missing_predictions(r) for r, p in pairs if p is None]
            self.pairing = self.stats = None
            self._set_counts(None)
            self.stats_html.value = ""
            self.notice.value = note("Predictions are missing, so only the table and curves are shown: "
                                     + "; ".join(missing) + ". Press reload when they exist.")
            for side in sides:
                side.title.value = f"<b>{side.letter.upper()}: {html.escape(side.name)}</b>"
            return
        same = manifest_hash(runs[0]) is not None and manifest_hash(runs[0]) == manifest_hash(runs[1])
        self.pairing = pairing = pair_predictions(predictions_a, predictions_b, same)
        notices = [pairing.shared_note(na, nb), *map(no_history_note, runs)]  # imported models: empty curves
        self._set_counts(pairing)
        if pairing.pairs:
            self.stats = paired_stats(pairing, runs[0].classes)
            self.stats_html.value = stats_html(self.stats, na, nb)
        else:
            self.stats = None
            self.stats_html.value = ""
            notices.append("The two runs share no test image: there is nothing to compare image by image.")
        self.notice.value = "".join(note(t) for t in notices if t)
        self.atlas.update(runs, (na, nb), pairing.pairs)
        for side in sides:
            side.open()

    def _set_counts(self, pairing: Pairing | None) -> None:
        names = pairing.cell_names if pairing is not None else AGREEMENT_CELLS
        counts = pairing.counts() if pairing is not None else {c: 0 for c in names}
        options = [(f"{CELL_TITLES[c].format(a='A', b='B')} ({counts[c]:,})", c) for c in names]
        value = self.agreement.value if self.agreement.value in names else "all"

        def apply() -> None:
            self.agreement.options = options
            self.agreement.value = value

        self._set_quiet(apply)
        self.agreement.disabled = pairing is None
        self.agreement.tooltips = [CELL_TOOLTIPS[c] for c in names]

    # ------------------------------------------------------------------ filtering and gallery
    def _refilter(self) -> None:
        if self.pairing is None:
            self._set_pairs([])
            self.count.value = ""
            return
        cell = self.agreement.value
        pairs = self.pairing.cell(cell)
        pairs = order_pairs(pairs) if cell == "all" else sorted(pairs, key=lambda p: (p.name, p.key))
        pairs = [p for p in pairs if self.atlas.keep(p)]
        self._set_pairs(pairs)
        title = CELL_TITLES[cell].format(a="A", b="B")
        shared = len(self.pairing.pairs)
        self.count.value = f"<b>{len(pairs):,}</b> {html.escape(title)} of {shared:,} shared test images"
        if self._pair is not None and any(p.key == self._pair.key for p in pairs):
            self.gallery.show_page(self.gallery.page_of(self._pair.key) or 0)
        elif pairs:
            self.select(pairs[0])

    def _set_pairs(self, pairs: list[Pair]) -> None:
        self._pairs = pairs
        self.gallery.set_rows(pairs)
        if not pairs and self.sides is not None:
            self._pair, self._current = None, None
            self.pair_title.value = pair_title(None)
            for side in self.sides:
                side.clear()
                side.prediction.value = ""

    def _thumb_image(self, pair: Pair) -> Any:
        from cvd_explorer.data.loader import load_image

        return load_image(pair.key, size=THUMB_PX)

    # ------------------------------------------------------------------ computing and drawing
    def _on_view_settings(self, _change: dict[str, Any]) -> None:
        current = self._current
        if current is not None and self._pair is not None and current[0].row.key == self._pair.a["path"]:
            self._draw(current, strip=False)
        elif self.sides is not None:
            for side in self.sides:
                side.label_only(self.depth.value)

    def _request(self) -> None:
        pair, sides = self._pair, self.sides
        if pair is None or sides is None or sides[0].session is None or sides[1].session is None:
            return
        a, b = sides
        hits = (a.cached(pair.index_a), b.cached(pair.index_b))
        if hits[0] is not None and hits[1] is not None:
            self._current = hits
            self._draw(hits, strip=True)
            return
        with self._ui:
            for side in sides:
                side.clear()
                side.label_only(self.depth.value)

        def done(result: tuple[Any, Any]) -> None:
            if self._pair is not None and self._pair.key == pair.key:
                self._current = result
                self._draw(result, strip=True)

        self.worker.submit(
            lambda: (a.explain(pair.index_a), b.explain(pair.index_b)),
            done,
            lambda exc: self.errors.show(exc, pair.name),
            label=f"explaining {pair.name} with both models (every conv layer)",
        )

    def _draw(self, explained: tuple[Any, Any], strip: bool) -> None:
        if self.sides is None:
            return
        with self._ui:
            for side, se in zip(self.sides, explained, strict=True):
                side.draw(se, self.depth.value, self.opacity.value, self.top_k.value, strip)
