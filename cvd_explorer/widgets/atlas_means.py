"""The Atlas's mean-map view: where the model looks on average, the mean unit-mass map of each
(class x correct / misclassified) group at a chosen block output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.explore.atlas_figures import mean_cams_png
from cvd_explorer.widgets._errors import ErrorArea

NO_BLOCKS = "(no blocks)"
ALL_CLASSES = "all classes"


class MeanMapsView:
    """The block picker, the class picker (shown for more than two classes) and the figure (:attr:`widget`);
    ``block``, ``klass`` and ``image`` are the Atlas's ``mean_block``, ``mean_class`` and ``mean_image``.
    The maps come in rows of eight (four classes, correct and misclassified side by side).

    Args:
        atlas: the atlas (``mean_cams["blocks"]`` and ``mean_cam(block, group) -> (map, n)``).
        classes: the run's class names (the groups derive from them).
        errors: the panel's error area.
        redraw: asks the panel to draw this view's figure (on its worker); the panel then calls :meth:`draw`.
    """

    def __init__(self, atlas: Any, classes: Sequence[str], errors: ErrorArea, redraw: Callable[[Any], None]) -> None:
        self._atlas, self._classes = atlas, list(classes)
        self._blocks = list(atlas.mean_cams["blocks"])
        self.block = W.Dropdown(options=self._blocks or [NO_BLOCKS],
                                value=self._blocks[-1] if self._blocks else NO_BLOCKS,
                                description="block", layout=W.Layout(width="320px"))
        self.klass = W.Dropdown(options=[ALL_CLASSES, *self._classes], value=ALL_CLASSES, description="class",
                                layout=W.Layout(width="320px", display=None if len(self._classes) > 2 else "none"))
        self.image = W.Image(format="png")
        self.image.add_class("cvd-atlas-mean")
        self.block.observe(errors.guard("mean CAM")(lambda _c: redraw(self)), "value")
        self.klass.observe(errors.guard("mean CAM")(lambda _c: redraw(self)), "value")
        self.widget = W.VBox([W.HBox([self.block, self.klass]), self.image, W.HTML(
            "<small>Where the model looks on average: the mean unit-mass map of each group at the block's "
            "output (every image weighs the same).</small>")])

    def draw(self) -> None:
        """Draw the figure (on the panel's worker): one map per group at the chosen block."""
        block = self.block.value
        if block not in self._blocks:
            self.image.value = b""
            return
        maps, titles = [], []
        chosen = self._classes if self.klass.value == ALL_CLASSES else [self.klass.value]
        for group in av.mean_cam_groups(chosen):
            values, n = self._atlas.mean_cam(block, group)
            maps.append(values)
            titles.append(f"{group} (n={n})")
        self.image.value = mean_cams_png(maps, titles)

    def close(self) -> None:
        """Nothing to stop: the view does not follow the link."""
