"""The Explorer's controls: which layer (conv layers or block outputs, a slider with its label) and
how to explain and draw it (method, target, opacity, top k, order, depth-strip length)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as W

from cvd_explorer.explain.registry import DEFAULT_METHOD, SPECS
from cvd_explorer.explore import views
from cvd_explorer.explore.session import TRUE_CLASS

NO_LAYERS = "(no layers)"
KINDS = (("conv layers", "conv"), ("block outputs", "blocks"))


class LayerControls:
    """The layer kind toggle (``kind``), the layer ``slider`` and its ``label`` (name, depth index, shape).

    The panel observes ``kind`` and ``slider``, and calls :meth:`refresh` with its observers muted
    (``Panel._set_quiet``).
    """

    def __init__(self) -> None:
        self.kind = W.ToggleButtons(options=list(KINDS), value="conv", description="layers")
        self.slider = W.SelectionSlider(options=[NO_LAYERS], description="layer", continuous_update=True,
                                        readout=False, layout=W.Layout(width="520px"))
        self.slider.add_class("cvd-layer")
        self.label = W.HTML("")
        self.label.add_class("cvd-layer-label")

    @property
    def name(self) -> str | None:
        """The layer shown, or None when the model has none of this kind."""
        value = self.slider.value
        return None if value == NO_LAYERS else str(value)

    def refresh(self, names: Sequence[str], prefer: str | None = None) -> None:
        """Offer ``names`` (depth order); keep ``prefer`` (default: the current layer) when offered,
        else show the deepest layer."""
        wanted = self.slider.value if prefer is None else prefer
        self.slider.options = list(names) if names else [NO_LAYERS]
        self.slider.value = wanted if wanted in names else (names[-1] if names else NO_LAYERS)
        self.slider.disabled = not names

    def kind_of(self, name: str, layer_sets: Mapping[str, Sequence[str]]) -> str | None:
        """The layer kind offering ``name``: the one shown when it has it, else the first that does."""
        kinds = [self.kind.value, *(k for _, k in KINDS if k != self.kind.value)]
        return next((k for k in kinds if name in layer_sets.get(k, ())), None)

    def update_label(self, shape_of: Callable[[str], tuple[int, ...] | None] | None) -> None:
        """Write the label of the layer shown (``shape_of(name)``: its output shape); empty without one."""
        name = self.name
        if name is None or shape_of is None:
            self.label.value = ""
            return
        names = list(self.slider.options)
        text = views.layer_label(name, names.index(name), len(names), shape_of(name))
        self.label.value = f"<code>{html.escape(text)}</code>"


class ViewControls:
    """How a layer is explained and drawn: ``method``, ``target``, ``opacity``, ``top_k``, ``order``,
    ``strip_n`` and the ``method_note`` (what the layer slider does for a pixel method)."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.method_note = W.HTML("")
        self.method_note.add_class("cvd-method-note")
        self.method = W.Dropdown(options=[(spec.label, spec.name) for spec in SPECS], value=DEFAULT_METHOD,
                                 description="method", layout=W.Layout(width="220px"))
        self.target = W.Dropdown(options=["predicted", TRUE_CLASS, *classes], value="predicted", description="target",
                                 layout=W.Layout(width="200px"))
        self.opacity = W.FloatSlider(value=0.4, min=0.0, max=1.0, step=0.05, description="opacity",
                                     continuous_update=True, layout=W.Layout(width="260px"))
        self.top_k = W.IntSlider(value=16, min=1, max=64, description="top k", continuous_update=True,
                                 layout=W.Layout(width="260px"))
        self.order = W.Dropdown(options=[("mean activation", "activation"), ("CAM weight", "cam-weight")],
                                value="activation", description="order", layout=W.Layout(width="240px"))
        self.strip_n = W.IntSlider(value=8, min=2, max=16, description="strip layers",
                                   continuous_update=False, layout=W.Layout(width="260px"))

    @property
    def widgets(self) -> tuple[W.ValueWidget, ...]:
        """Every control (to enable or disable them together)."""
        return (self.method, self.target, self.opacity, self.top_k, self.order, self.strip_n)

    def set_classes(self, classes: Sequence[str], labelled: bool = True) -> None:
        """Offer "predicted", "true class" (when the samples are ``labelled``) and ``classes`` as targets,
        back on "predicted"."""
        self.target.options = ["predicted", *([TRUE_CLASS] if labelled else []), *classes]
        self.target.value = "predicted"

    def update_note(self) -> None:
        """Say what the layer slider does for the method chosen (pixel methods ignore it)."""
        note = views.layer_note(self.method.value)
        self.method_note.value = f"<i style='color:#555'>{html.escape(note)}</i>" if note else ""
