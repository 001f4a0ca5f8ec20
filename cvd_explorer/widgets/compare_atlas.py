"""Compare's atlas row: both runs' depth curves on one relative-depth axis and the agreement cells
crossed with the triage. Thin: the logic is :mod:`cvd_explorer.explore.compare_atlas`."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.explore import compare_atlas as ca

CURVE_TITLES = {"agreement_with_last": "agreement with the deepest layer", "mass_in_mask": "mass inside the mask"}
CELL_NAMES = {
    "both_right": "both right", "both_wrong": "both wrong", "only_a": "only A right", "only_b": "only B right",
}


class AtlasCompare:
    """The widgets; :meth:`update` after the runs (and their pairing) are opened.

    Attributes:
        widget: the box to place in the panel.
        curve: which depth curve is drawn; ``depth_image`` the figure; ``triage_html`` the crossing;
        suspects_only: restricts the gallery to images either atlas suspects (the panel reads it).
    """

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.curve = W.Dropdown(options=[(t, c) for c, t in CURVE_TITLES.items()], value="agreement_with_last",
                                description="depth curve", layout=W.Layout(width="360px"))
        self.depth_image = W.Image(format="png", width=600)
        self.triage_html = W.HTML("")
        self.suspects_only = W.Checkbox(value=False, description="suspected label errors only", indent=False)
        self.notice = W.HTML("")
        self.widget = W.VBox([self.notice])
        self.suspects: tuple[set[str], set[str]] = (set(), set())
        self._depths: list[tuple[str, DepthCurves]] = []
        self._on_change = on_change
        self.curve.observe(lambda _c: self._draw(), "value")
        self.suspects_only.observe(lambda _c: self._on_change(), "value")

    @property
    def active(self) -> bool:
        """Whether both runs have a current atlas."""
        return len(self._depths) == 2

    def update(self, runs: Sequence[Any], names: Sequence[str], pairs: Sequence[Any]) -> None:
        """Read both runs' atlases (no TensorFlow); without them, say how to make them."""
        from cvd_explorer.atlas import find_atlas

        atlases = [find_atlas(r) for r in runs]
        missing = [n for n, a in zip(names, atlases, strict=True) if a is None]
        if missing:
            self._depths, self.suspects = [], (set(), set())
            self.suspects_only.value = False
            self.notice.value = (
                "<i>Depth curves of both models and the triage need an atlas of each run: "
                + "; ".join(f"<code>cvd-explorer atlas {html.escape(str(r.path))}</code>"
                            for r, a in zip(runs, atlases, strict=True) if a is None) + "</i>")
            self.widget.children = [self.notice]
            return
        a, b = atlases[0], atlases[1]
        assert a is not None and b is not None
        self._depths = [(f"A {names[0]}", a.depth), (f"B {names[1]}", b.depth)]
        self.suspects = (ca.suspects_of(a.rows), ca.suspects_of(b.rows))
        options = [(t, c) for c, t in CURVE_TITLES.items() if all(c in d for _, d in self._depths)]
        self.curve.options = options
        self.notice.value = ""
        self.widget.children = [W.HBox([self.curve, self.suspects_only]),
                                W.HBox([self.depth_image, self.triage_html], layout=W.Layout(grid_gap="16px"))]
        self._draw()
        self.set_pairs(pairs)

    def set_pairs(self, pairs: Sequence[Any]) -> None:
        """Redraw the crossing of the agreement cells with the suspects."""
        if not self.active:
            return
        cross = ca.triage_cross(pairs, *self.suspects)
        rows = "".join(
            f"<tr><td>{CELL_NAMES[c]}</td><td>{v['images']:,}</td><td>{v['suspect_a']:,}</td>"
            f"<td>{v['suspect_b']:,}</td><td><b>{v['suspect_both']:,}</b></td></tr>" for c, v in cross.items())
        both = cross["both_wrong"]["suspect_both"]
        self.triage_html.value = (
            "<table class='cvd-triage'><tr><th>cell</th><th>images</th><th>suspect (A)</th><th>suspect (B)</th>"
            f"<th>both</th></tr>{rows}</table><p>{both:,} image(s) both models get wrong and both atlases suspect "
            "as label errors: most likely the label, not the models.</p>")

    def keep(self, pair: Any) -> bool:
        """Whether the gallery shows ``pair`` under the suspects-only filter."""
        return not self.suspects_only.value or ca.is_suspect(pair, *self.suspects)

    def _draw(self) -> None:
        if not self.active or self.curve.value is None:
            return
        curves = ca.run_curves(self._depths, self.curve.value)
        self.depth_image.value = ca.overlay_png(curves, title=CURVE_TITLES[self.curve.value])
