"""The Explorer's public linking interface (what the Atlas uses): set_layer, restrict with an order,
set_badges, on_select / on_layer; and its options object next to the keyword arguments."""

from __future__ import annotations

import pytest

from cvd_explorer.widgets import Explorer
from cvd_explorer.widgets.explorer_options import ExplorerOptions
from tests.widgets.helpers import random_images


@pytest.fixture
def explorer(model32):
    return Explorer(model=model32, images=random_images(6), labels=[0, 1, 0, 1, 0, 1], background=False)


def test_set_layer_switches_the_layer_kind_and_reports_the_layer(explorer) -> None:
    conv, blocks = explorer.session.layer_sets["conv"], explorer.session.layer_sets["blocks"]
    assert conv and blocks
    heard: list[str] = []
    explorer.on_layer.append(heard.append)
    explorer.layer_kind.value = "blocks"
    assert heard[-1] == explorer.layer.value and explorer.layer.value in blocks
    assert explorer.set_layer(conv[0])
    assert explorer.layer_kind.value == "conv" and explorer.layer.value == conv[0] and heard[-1] == conv[0]
    assert conv[0] in explorer.layer_label.value
    assert explorer.explanation is not None and bytes(explorer.cam_image.value)  # drawn at that layer
    assert explorer.set_layer(conv[1]) and explorer.layer.value == conv[1] and heard[-1] == conv[1]
    before = (explorer.layer_kind.value, explorer.layer.value, len(heard))
    assert explorer.set_layer("no such layer") is False
    assert (explorer.layer_kind.value, explorer.layer.value, len(heard)) == before


def test_restrict_with_and_without_an_order(explorer) -> None:
    keys = explorer.samples
    chosen = [keys[4], keys[1], keys[3]]
    explorer.restrict(chosen)
    assert sorted(explorer.samples) == sorted(chosen) and explorer.sort.value == "name"  # its own sort
    explorer.restrict(chosen, order="selection")
    assert explorer.samples == chosen and explorer.sort.value == "selection"
    assert explorer.restricted == tuple(chosen)
    explorer.restrict(None)
    assert len(explorer.samples) == len(keys)
    with pytest.raises(ValueError, match="order must be one of"):
        explorer.restrict(chosen, order="random")  # type: ignore[arg-type]


def test_set_badges_marks_the_gallery_and_follows_the_selection(explorer) -> None:
    first = explorer.samples[0]
    explorer.set_badges(lambda row: ("⚑", "flagged") if row.key == first else ("", ""))
    button = explorer.gallery.cells[0][1]
    assert button.description.startswith("⚑") and button.tooltip.endswith("flagged")
    explorer.set_badges(None)
    assert not explorer.gallery.cells[0][1].description.startswith("⚑")
    selected: list[str] = []
    explorer.on_select.append(selected.append)
    explorer.sample = explorer.samples[2]
    assert selected == [explorer.samples[2]]


def test_options_object_and_keywords(model32) -> None:
    options = ExplorerOptions(per_page=2, background=False, classes=("neg", "pos"))
    ex = Explorer(model=model32, images=random_images(3), options=options)
    assert ex.gallery.per_page == 2 and ex.options.classes == ("neg", "pos")
    assert list(ex.class_filter.options) == ["all", "neg", "pos"]
    ex = Explorer(model=model32, images=random_images(3), options=options, per_page=3)  # a keyword wins
    assert ex.gallery.per_page == 3 and not ex.options.background
    with pytest.raises(TypeError, match="unexpected keyword argument 'per_pages'"):
        Explorer(model=model32, images=random_images(3), per_pages=3)
