"""One run's half of the Compare panel's side-by-side views: its model session and its images."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np

from cvd_explorer.depth import layer_at_depth
from cvd_explorer.explain.registry import DEFAULT_METHOD
from cvd_explorer.explore import views
from cvd_explorer.explore.session import SampleExplanation, Session
from cvd_explorer.render import to_png
from cvd_explorer.widgets.compare_html import prediction_html

METHOD, TARGET, KIND = DEFAULT_METHOD, "predicted", "conv"


class Side:
    """A run's model (an Explorer :class:`Session`, images at the run's own size) and its views.

    Args:
        run: the :class:`~cvd_explorer.runs.Run`.
        letter: ``"a"`` or ``"b"`` (CSS classes ``cvd-compare-a`` / ``-b``).
        cache_size: samples whose explanations are kept.

    Attributes:
        session: the Explorer session, or None when the run has no predictions (or no model).
        layer_label, cam_image, feature_image, strip_image, prediction: the widgets.
    """

    def __init__(self, run: Any, letter: str, cache_size: int = 8) -> None:
        self.run = run
        self.letter = letter
        self.cache_size = cache_size
        self.session: Session | None = None
        self._display: tuple[str, np.ndarray] | None = None
        self.title = W.HTML("")
        self.layer_label = W.HTML("")
        self.layer_label.add_class(f"cvd-compare-layer-{letter}")
        self.cam_image = W.Image(format="png", width=256)
        self.cam_image.add_class("cvd-compare-cam")
        self.cam_image.add_class(f"cvd-compare-cam-{letter}")
        self.feature_image = W.Image(format="png", width=256)
        self.strip_image = W.Image(format="png")
        self.prediction = W.HTML("")
        self.widget = W.VBox(
            [self.title, self.layer_label, self.cam_image, self.prediction, self.feature_image, self.strip_image],
            layout=W.Layout(padding="4px", border="1px solid #ddd", align_items="flex-start"),
        )
        self.widget.add_class(f"cvd-compare-{letter}")

    @property
    def name(self) -> str:
        """The run's folder name."""
        return str(self.run.name)

    def open(self) -> None:
        """Load the model (only for a run with predictions) and write the title."""
        config = self.run.config
        self.title.value = (f"<b>{self.letter.upper()}: {html.escape(self.name)}</b> "
                            f"({html.escape(config.arch)}, {int(config.image_size)} px)")
        self.session = Session.from_run(self.run, cache_size=self.cache_size) if self.run.predictions else None

    def layers(self) -> tuple[str, ...]:
        """The model's conv layers in depth order (empty without a session)."""
        return tuple(self.session.layer_sets[KIND]) if self.session else ()

    def layer(self, depth: int) -> str | None:
        """The conv layer shown at relative depth ``depth`` (0-100), stage first."""
        names = self.layers()
        return layer_at_depth(names, depth) if names else None

    def cached(self, index: int) -> SampleExplanation | None:
        """The cached explanation of prediction row ``index``, or None."""
        return self.session.cached(self.session.rows[index], METHOD, TARGET, KIND) if self.session else None

    def explain(self, index: int) -> SampleExplanation:
        """Explain prediction row ``index`` at every conv layer (one engine pass, cached)."""
        session = self._opened()
        return session.explain(session.rows[index], METHOD, TARGET, KIND)

    def _opened(self) -> Session:
        """The session; RuntimeError before :meth:`open` or for a run without predictions."""
        if self.session is None:
            raise RuntimeError(f"{self.name}: no model to explain with (the run has no test predictions)")
        return self.session

    def show_prediction(self, row: dict[str, Any]) -> None:
        """Fill the prediction box from the run's prediction row."""
        classes = self.run.classes
        self.prediction.value = prediction_html(row, classes, self.run.positive if len(classes) == 2 else None)

    def draw(self, se: SampleExplanation, depth: int, opacity: float, top_k: int, strip: bool) -> None:
        """Draw the CAM overlay and feature grid at ``depth`` (and the depth strip when ``strip``)."""
        session = self._opened()
        names = self.layers()
        layer = layer_at_depth(names, depth)
        shape = session.layer_shape(layer)
        label = views.layer_label(layer, names.index(layer), len(names), shape)
        self.layer_label.value = f"<code>{html.escape(label)}</code>"
        if self._display is None or self._display[0] != se.row.key:
            self._display = (se.row.key, views.display_image(se.image))
        self.cam_image.value = to_png(views.cam_view(se, layer, opacity, self._display[1]))
        self.feature_image.value = to_png(views.feature_view(se, layer, top_k))
        if strip:
            self.strip_image.value = to_png(views.strip_view(se, 8))

    def label_only(self, depth: int) -> None:
        """Update the layer label without drawing (the sample is still being explained)."""
        layer = self.layer(depth)
        if layer is not None:
            names = self.layers()
            label = views.layer_label(layer, names.index(layer), len(names), None)
            self.layer_label.value = f"<code>{html.escape(label)}</code>"

    def clear(self) -> None:
        """Empty the image views."""
        self.cam_image.value = b""
        self.feature_image.value = b""
        self.strip_image.value = b""
