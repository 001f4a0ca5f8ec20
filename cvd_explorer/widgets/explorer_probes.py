"""The Explorer's epoch slider: on a probe image of a run with probes, where the model looked after
epoch e at the selected block output (the arrays come from :mod:`cvd_explorer.explore.probes`)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np

from cvd_explorer.explore.probes import ProbeHistory, epoch_view
from cvd_explorer.render import to_png

NO_PROBES = "this run has no probes (trained with --probes 0, or before probes existed)"
NOT_A_PROBE = "not a probe image: the CAMs during training were saved only for the run's probe images"
NOT_BLOCKS = "the probes record block outputs: choose “block outputs” to follow this layer through training"


class ProbeControls:
    """An epoch slider, the map after that epoch and a note saying when the slider does not apply.

    Test handles: ``epoch`` (the slider), ``image``, ``note``, ``widget``; :attr:`history`.
    """

    def __init__(self) -> None:
        self.history: ProbeHistory | None = None
        self.epoch = W.IntSlider(value=1, min=1, max=1, description="epoch", continuous_update=True,
                                 disabled=True, layout=W.Layout(width="320px"))
        self.epoch.add_class("cvd-probe-epoch")
        self.image = W.Image(format="png", width=160)
        self.image.add_class("cvd-probe-image")
        self.note = W.HTML("")
        self.note.add_class("cvd-probe-note")
        self.widget = W.VBox([W.HBox([self.epoch, self.note], layout=W.Layout(align_items="center")), self.image])
        self.widget.layout.display = "none"
        self._where: tuple[str | None, str, str, np.ndarray | None] = (None, "", "", None)
        self._active = False  # the slider applies to the selected sample and layer
        self._chosen = False  # the user moved the slider (else it follows the latest epoch)
        self.epoch.observe(lambda _c: self._on_epoch(), "value")

    def open(self, run: Any) -> None:
        """Use the probes of ``run`` (a :class:`~cvd_explorer.runs.Run`), or none (``run`` None)."""
        self.history = None if run is None else ProbeHistory.open(run.path, run.data_root)
        self.widget.layout.display = "none" if run is None else ""
        self._where = (None, "", "", None)
        self._chosen = False
        self._set(None, NO_PROBES if run is not None else "")

    def show(self, key: str | None, kind: str, layer: str, display: np.ndarray | None = None) -> None:
        """Follow the selected sample ``key`` at ``layer`` of ``kind`` ("conv" or "blocks")."""
        self._where = (key, kind, layer, display)
        history = self.history
        epochs = history.epochs if history is not None else []
        index = history.index_of(key) if history is not None and key is not None else None
        if history is None or not epochs:
            self._set(None, NO_PROBES if self.widget.layout.display != "none" else "")
        elif index is None:
            self._set(None, NOT_A_PROBE)
        elif kind != "blocks" or layer not in history.layers:
            self._set(None, NOT_BLOCKS)
        else:
            self._set(epochs, "")
            self._draw()

    def _set(self, epochs: list[int] | None, note: str) -> None:
        self.note.value = f"<span style='color:#666'>{html.escape(note)}</span>" if note else ""
        self._active = False  # the slider's own changes below are not the user's
        if not epochs:
            self.epoch.disabled = True
            self.image.value = b""
            self.image.layout.display = "none"  # an empty image would show as a broken picture
            return
        self.image.layout.display = ""
        keep = self.epoch.value if self._chosen and epochs[0] <= self.epoch.value <= epochs[-1] else epochs[-1]
        if epochs[0] > self.epoch.max:  # never min > max on the way
            self.epoch.max = epochs[-1]
            self.epoch.min = epochs[0]
        else:
            self.epoch.min = epochs[0]
            self.epoch.max = epochs[-1]
        self.epoch.value = keep
        self.epoch.disabled = len(epochs) < 2
        self._active = True

    def _on_epoch(self) -> None:
        if self._active:
            self._chosen = True
            self._draw()

    def _draw(self) -> None:
        key, _kind, layer, display = self._where
        history = self.history
        if not self._active or history is None or key is None:
            return
        index = history.index_of(key)
        if index is None or self.epoch.value not in history.epochs:
            return
        self.image.value = to_png(epoch_view(history, index, layer, self.epoch.value, display))
