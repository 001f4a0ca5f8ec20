"""The Atlas's clickable class legend: one button per true class in the scatter's colour (and marker
past 20 classes) with its counts; a click selects that class's images (``link.selection``), or only
its misclassified ones with the switch beside it."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as W

from cvd_explorer.explore import atlas_view as av
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.link import AtlasLink, Selection


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``#rrggbb`` (relative luminance above or below 0.45)."""
    r, g, b = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


class LegendView:
    """The legend (:attr:`widget`): ``buttons`` is ``{class: Button}`` (the Atlas's ``legend_buttons``),
    ``mistakes_only`` the switch (``legend_mistakes``). Sets ``link.selection``; follows nothing.

    Args:
        link: the shared state.
        points: the atlas's points in plot order.
        classes: the run's class names, in class order.
        errors: the panel's error area.
    """

    def __init__(
        self, link: AtlasLink, points: Sequence[av.AtlasPoint], classes: Sequence[str], errors: ErrorArea,
    ) -> None:
        self.link = link
        self._keys: dict[str, list[av.AtlasPoint]] = {c: [] for c in classes}
        for point in points:
            self._keys.setdefault(point.label, []).append(point)
        self.mistakes_only = W.Checkbox(value=False, description="misclassified only", indent=False,
                                        layout=W.Layout(width="150px"))
        self.buttons: dict[str, W.Button] = {}
        for name, (light, dark, marker) in av.class_colours(classes).items():
            members = self._keys.get(name, [])
            wrong = sum(not p.correct for p in members)
            symbol = av.MARKER_SYMBOLS.get(marker, "●")
            button = W.Button(description=f"{symbol} {name} · {len(members):,}",
                              tooltip=f"true class {name}: select its {len(members):,} images ({wrong:,} "
                                      f"misclassified, drawn in {dark})",
                              layout=W.Layout(width="auto", height="26px", padding="0 6px"))
            button.style.button_color = light
            button.style.text_color = text_colour(light)
            button.disabled = not members
            button.add_class("cvd-atlas-legend-class")
            button.on_click(errors.guard("legend")(lambda _b, c=name: self.select(c)))
            self.buttons[name] = button
        self.widget = W.VBox([
            W.HBox([W.HTML("<small><b>classes</b> (a click selects them; darker points are "
                           "misclassified, opacity is confidence)</small>"), self.mistakes_only],
                   layout=W.Layout(align_items="center", grid_gap="8px")),
            W.HBox(list(self.buttons.values()), layout=W.Layout(flex_flow="row wrap", grid_gap="3px",
                                                                max_height="120px", overflow="auto")),
        ])
        self.widget.add_class("cvd-atlas-legend")

    def select(self, name: str) -> list[str]:
        """Select the images of true class ``name`` (only its misclassified ones when the switch is on), in
        plot order; returns their keys."""
        if name not in self._keys:
            raise ValueError(f"unknown class {name!r}; classes: {', '.join(self._keys)}")
        keys = tuple(p.key for p in self._keys[name] if not (self.mistakes_only.value and p.correct))
        self.link.selection = Selection(keys)
        return list(keys)

    def close(self) -> None:
        """Nothing to stop: the view only sets the link."""
