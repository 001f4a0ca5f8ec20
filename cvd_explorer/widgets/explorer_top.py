"""The Explorer's "top 3" view: the CAMs of the three most probable classes of the selected image side by
side at the current layer, computed on demand (one engine pass for the classes not cached yet) and kept in
the session's cache."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np

from cvd_explorer.explain.registry import method_spec
from cvd_explorer.explore import views
from cvd_explorer.explore.samples import SampleRow
from cvd_explorer.explore.session import SampleExplanation, Session
from cvd_explorer.render import to_png
from cvd_explorer.widgets._async import Worker
from cvd_explorer.widgets._errors import ErrorArea

TOP = 3


class TopView:
    """A ``toggle`` ("top 3") and, when it is on, up to three CAM ``images`` with their ``captions``.

    Args:
        worker: computes the explanations off the kernel's thread (the panel's worker).
        errors: where failures are shown.

    Attributes:
        explanations: what the images show (one per class, most probable first), empty when cleared.
    """

    def __init__(self, worker: Worker, errors: ErrorArea) -> None:
        self._worker, self._errors = worker, errors
        self.toggle = W.ToggleButton(value=False, description=f"top {TOP}", icon="th-large",
                                     tooltip=f"the CAMs of the {TOP} most probable classes side by side",
                                     layout=W.Layout(width="90px"))
        self.images = [W.Image(format="png", width=200) for _ in range(TOP)]
        self.captions = [W.HTML("") for _ in range(TOP)]
        for image in self.images:
            image.add_class("cvd-top-cam")
        self.explanations: list[SampleExplanation] = []
        self._probs: dict[str, float] = {}
        self._boxes = [W.VBox([c, i]) for c, i in zip(self.captions, self.images, strict=True)]
        self.widget = W.HBox(self._boxes, layout=W.Layout(grid_gap="8px", display="none"))
        self.widget.add_class("cvd-top")

    @property
    def on(self) -> bool:
        """Whether the view is shown."""
        return bool(self.toggle.value)

    def update(self, session: Session | None, row: SampleRow | None, method: str, kind: str, layer: str | None,
               opacity: float, display: np.ndarray | None, current: Any) -> None:
        """Show the top classes of ``row`` at ``layer``: from the cache, else via the worker (``current()``
        says which row is still selected when the result arrives)."""
        self.widget.layout.display = "" if self.on else "none"
        if not self.on or session is None or row is None or layer is None:
            return
        top = session.top_classes(row, TOP)
        self._probs = dict(top)
        names = [name for name, _ in top]
        per_layer = layer if method_spec(method).per_layer else None
        cached = [session.cached(row, method, n, kind, per_layer) for n in names]
        if all(c is not None for c in cached):
            self.draw([c for c in cached if c is not None], layer, opacity, display)
            return
        self.clear()

        def done(ses: list[SampleExplanation]) -> None:
            if current() == row.key and self.on:
                self.draw(ses, layer, opacity, display)

        self._worker.submit(lambda: session.explain_classes(row, method, names, kind, per_layer), done,
                            lambda exc: self._errors.show(exc, f"top {TOP} of {row.name}"),
                            label=f"explaining the top {TOP} classes of {row.name}")

    def draw(self, ses: list[SampleExplanation], layer: str, opacity: float, display: np.ndarray | None) -> None:
        """Draw the CAM of ``layer`` for each explanation (the layers it has; others stay empty)."""
        self.explanations = list(ses)
        for i, (image, caption) in enumerate(zip(self.images, self.captions, strict=True)):
            se = ses[i] if i < len(ses) else None
            self._boxes[i].layout.display = "" if se is not None else "none"
            if se is None or layer not in se.layers:
                image.value, caption.value = b"", ""
                continue
            image.value = to_png(views.cam_view(se, layer, opacity, display))
            p = self._probs.get(se.target, float("nan"))
            true = " (true class)" if se.row.label == se.target else ""
            caption.value = f"<b>{html.escape(se.target)}</b> · p {p:.3f}{html.escape(true)}"

    def redraw(self, layer: str, opacity: float, display: np.ndarray | None) -> bool:
        """Draw the explanations held at another layer or opacity; False when they do not cover ``layer``."""
        if not self.on or not self.explanations or any(layer not in se.layers for se in self.explanations):
            return False
        self.draw(self.explanations, layer, opacity, display)
        return True

    def clear(self) -> None:
        """Empty the images."""
        self.explanations = []
        for image, caption in zip(self.images, self.captions, strict=True):
            image.value, caption.value = b"", ""
