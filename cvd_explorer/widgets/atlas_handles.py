"""The Atlas's test handles: each names a widget of one of its views (None without an atlas), so that
tests and notebooks reach ``atlas.confusion_buttons`` rather than ``atlas.confusion.buttons``."""

from __future__ import annotations

from typing import Any


class _ViewHandle:
    """A test handle of the Atlas: attribute ``attr`` of its view ``view`` (None without an atlas)."""

    def __init__(self, view: str, attr: str) -> None:
        self.view, self.attr = view, attr

    def __get__(self, atlas: Any, owner: type | None = None) -> Any:
        view = getattr(atlas, self.view) if atlas is not None else None
        return None if view is None else getattr(view, self.attr)


class AtlasHandles:
    """The handles, as class attributes of the Atlas (listed in its docstring)."""

    scatter = _ViewHandle("scatter_view", "scatter")
    scatter_widget = _ViewHandle("scatter_view", "scatter_widget")
    clear_button = _ViewHandle("scatter_view", "clear_button")
    mode = _ViewHandle("scatter_view", "mode")
    hover_image = _ViewHandle("scatter_view", "hover_image")
    hover_text = _ViewHandle("scatter_view", "hover_text")
    highlighted = _ViewHandle("scatter_view", "highlighted")
    depth_curve = _ViewHandle("depth", "curve")
    depth_by_class = _ViewHandle("depth", "by_class")
    depth_layer = _ViewHandle("depth", "layer")
    depth_image = _ViewHandle("depth", "image")
    confusion_buttons = _ViewHandle("confusion", "buttons")
    triage_filter = _ViewHandle("triage", "filter")
    triage_sort = _ViewHandle("triage", "sort")
    triage_apply = _ViewHandle("triage", "apply_button")
    verdict_buttons = _ViewHandle("triage", "verdict_buttons")
    verdict_clear = _ViewHandle("triage", "verdict_clear")
    verdict_note = _ViewHandle("triage", "verdict_note")
    verdict_target = _ViewHandle("triage", "verdict_target")
    export_path = _ViewHandle("triage", "export_path")
    export_button = _ViewHandle("triage", "export_button")
    export_result = _ViewHandle("triage", "export_result")
    mean_block = _ViewHandle("means", "block")
    mean_image = _ViewHandle("means", "image")
    depth_outcome = _ViewHandle("depth", "outcome")
    legend_buttons = _ViewHandle("legend", "buttons")
    legend_mistakes = _ViewHandle("legend", "mistakes_only")
    mean_class = _ViewHandle("means", "klass")
    slice_buttons = _ViewHandle("slices", "buttons")
    similar_button = _ViewHandle("similar", "button")
    similar_k = _ViewHandle("similar", "k")
    similar_text = _ViewHandle("similar", "text")
