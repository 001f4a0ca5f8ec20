"""The Atlas's depth-curves view: a curve per layer, correct vs misclassified, or per true class (one
curve per class for the correct or the misclassified images, or both: 2 K curves), with a layer slider
under the plot that follows and moves ``link.layer`` (the Explorer's layer slider). Clicks on a PNG are
not reported to the kernel, hence the slider. The per-class switch is hidden when the atlas has no
per-class curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.explore import atlas_view as av
from cvd_explorer.explore.atlas_figures import depth_png
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.link import AtlasLink, unobserved

NO_LAYERS = "(no layers)"
BOTH = "correct and misclassified"
OUTCOME_CHOICES = ((BOTH, BOTH), ("correct images", "correct"), ("misclassified images", "misclassified"))


class DepthView:
    """The curve picker, the per-class switch, the figure and the layer slider (:attr:`widget`).

    Args:
        link: the shared state (``layer``).
        depth: the atlas's :class:`~cvd_explorer.atlas.curves.DepthCurves`.
        layers: the atlas's layers (when the curves do not name them).
        classes: the run's class names.
        errors: the panel's error area.
        redraw: asks the panel to draw this view's figure (on its worker); the panel then calls :meth:`draw`.

    Attributes:
        curve, by_class, outcome, layer, image: the widgets (the Atlas's ``depth_curve``, ``depth_by_class``,
            ``depth_outcome``, ``depth_layer``, ``depth_image``); ``outcome`` (shown with ``by_class``)
            picks which images' curve each class gets: both (the default for two classes), or one
            curve per class of its correct (the default for more) or misclassified images.
    """

    def __init__(
        self, link: AtlasLink, depth: DepthCurves, layers: Sequence[str], classes: Sequence[str],
        errors: ErrorArea, redraw: Callable[[Any], None],
    ) -> None:
        self.link, self._depth, self._classes, self._redraw = link, depth, list(classes), redraw
        curves = av.available_curves(depth)
        self.curve = W.Dropdown(options=[(av.DEPTH_CURVES[c], c) for c in curves],
                                value=curves[0] if curves else None, description="curve",
                                layout=W.Layout(width="460px"), style={"description_width": "50px"})
        self.by_class = W.Checkbox(value=False, description="per class", indent=False,
                                   layout=W.Layout(width="100px"))
        self.outcome = W.Dropdown(options=list(OUTCOME_CHOICES), value=BOTH if len(classes) <= 2 else "correct",
                                  layout=W.Layout(width="220px", display="none"))
        if not av.has_class_curves(depth):
            self.by_class.layout.display = "none"
        self._layers = list(depth.layers or layers)
        self.layer = W.SelectionSlider(options=self._layers or [NO_LAYERS],
                                       value=self._layers[-1] if self._layers else NO_LAYERS,
                                       description="layer", continuous_update=False, layout=W.Layout(width="620px"))
        self.layer.add_class("cvd-atlas-depth-layer")
        self.image = W.Image(format="png")
        self.image.add_class("cvd-atlas-depth")
        guard = errors.guard
        self.curve.observe(guard("depth curve")(lambda _c: redraw(self)), "value")
        self.by_class.observe(guard("depth curve")(self._by_class_changed), "value")
        self.outcome.observe(guard("depth curve")(lambda _c: redraw(self)), "value")
        self._on_slider = guard("depth layer")(self._slider_moved)
        self._on_link_layer = guard("layer")(self._link_layer)
        self.layer.observe(self._on_slider, "value")
        link.observe(self._on_link_layer, "layer")
        note = W.HTML("<small>Mean per layer with its 95% interval, correct vs misclassified images (or per true "
                      "class). The slider under the plot moves the Explorer's layer slider (clicks on the picture "
                      "do not reach the kernel).</small>")
        self.widget = W.VBox([W.HBox([self.curve, self.by_class, self.outcome],
                                     layout=W.Layout(align_items="center")), self.image, self.layer, note])

    def close(self) -> None:
        """Stop following the link (the view is replaced)."""
        self.link.unobserve(self._on_link_layer, "layer")

    def draw(self) -> None:
        """Draw the figure (on the panel's worker): the chosen curve, the slider's layer marked."""
        curve = self.curve.value
        if not curve:
            self.image.value = b""
            return
        outcome = None if self.outcome.value == BOTH else self.outcome.value
        series = av.depth_series(self._depth, curve, by_class=self.by_class.value, outcome=outcome)
        self.image.value = depth_png(series, list(self._depth.layers), title=av.DEPTH_CURVES[curve],
                                     classes=self._classes, marker=self.layer.value)

    def _by_class_changed(self, change: dict[str, Any]) -> None:
        self.outcome.layout.display = None if change["new"] else "none"
        self._redraw(self)

    def _slider_moved(self, change: dict[str, Any]) -> None:
        self._redraw(self)
        with unobserved(self.link, self._on_link_layer, "layer"):
            self.link.layer = change["new"]

    def _link_layer(self, change: dict[str, Any]) -> None:
        """Another view moved the layer: follow it when it is one of the curves' layers."""
        layer = change["new"]
        if layer in self._layers and layer != self.layer.value:
            with unobserved(self.layer, self._on_slider, "value"):
                self.layer.value = layer
            self._redraw(self)
