"""The report's slice table (cvd_explorer.report.slices_section) on a hand-made atlas summary and
``slices.npz`` in the format the atlas writes: ``summary["slices"]`` and ``(S, 2, h, w)`` mean maps."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.atlas import store
from cvd_explorer.report.blocks import Figure, Table, Text
from cvd_explorer.report.html import render_block
from cvd_explorer.report.slices_section import MAX_SLICES, THUMB_PX, _map_picture, slice_blocks


def make_atlas(folder: Path, n_slices: int = 2, maps: bool = True) -> tuple[dict, dict[str, tuple[str, bool]]]:
    """Images ``img<i>.png`` under ``folder/data``, a summary with ``n_slices`` slices and their maps."""
    data = folder / "data"
    data.mkdir(parents=True)
    outcome = {}
    for i in range(12):
        Image.fromarray(np.full((20, 20, 3), 20 * i, np.uint8)).save(data / f"img{i}.png")
        outcome[f"img{i}.png"] = ("dog" if i % 3 else "cat", i % 3 != 0)
    slices = [{
        "id": k, "size": 4, "paths": [f"img{4 * k + j}.png" for j in range(4)], "error_rate": 0.5 + 0.1 * k,
        "interval": [0.2, 0.8 + 0.05 * k], "overall_error_rate": 0.25, "p_value": 0.01 * (k + 1),
        "q_value": 0.02 * (k + 1), "classes": {"cat": 3, "dog": 1},
    } for k in range(n_slices)]
    if maps:
        arr = np.zeros((n_slices, 2, 8, 8), np.float32)
        arr[:, 0, 0, 0] = 1.0  # the slice looks at the top-left corner
        arr[:, 1, 7, 7] = 0.5  # the correct images at the bottom-right, half as concentrated
        store.write_npz(folder / "slices.npz", {"maps": arr})
    return {"split": "test", "slices": slices}, outcome


def test_table_and_figure_of_the_slices(tmp_path: Path) -> None:
    summary, outcome = make_atlas(tmp_path)
    blocks = slice_blocks(summary, tmp_path, lambda p: tmp_path / "data" / p, outcome, "run")
    table, figure = blocks
    assert isinstance(table, Table) and isinstance(figure, Figure)
    assert table.id == "atlas-slices-run" and [r[0].text for r in table.rows] == ["slice 0", "slice 1"]
    row = {h: c for h, c in zip(table.header, table.rows[1], strict=True)}
    assert row["images"].value == 4 and row["error rate"].value == pytest.approx(0.6)
    assert (row["95% low"].value, row["95% high"].value) == (0.2, pytest.approx(0.85))
    assert row["q-value"].value == pytest.approx(0.04) and row["true classes"].text == "cat 3, dog 1"
    assert row["overall error rate"].value == 0.25
    picture = np.asarray(Image.open(io.BytesIO(figure.png)).convert("RGB"))
    assert picture.shape[0] > 200 and picture.std() > 0
    assert "mean unit-mass map" in figure.caption and "look" in figure.caption.lower()
    html = render_block(table)
    assert 'id="atlas-slices-run"' in html and "q-value" in html


def test_the_mean_maps_share_one_colour_scale() -> None:
    arr = np.zeros((2, 8, 8), np.float32)
    arr[0, 0, 0], arr[1, 7, 7] = 1.0, 0.5
    peak = float(arr.max())
    hot, half = _map_picture(arr[0], peak), _map_picture(arr[1], peak)
    assert hot.shape == (THUMB_PX, THUMB_PX, 3)
    # jet: the slice's peak is dark red in its corner; the reference's (half the peak) is green-ish in its own corner
    assert hot[0, 0, 0] > 100 and hot[0, 0, 2] < 50 and hot[-1, -1, 2] > 100  # red top-left, blue elsewhere
    assert half[-1, -1, 1] > 150 and half[-1, -1, 0] < 200 and half[0, 0, 2] > 100


def test_without_slices_the_section_is_absent_and_an_empty_list_says_so(tmp_path: Path) -> None:
    assert slice_blocks({"split": "test"}, tmp_path, Path, {}, "run") == []
    (empty,) = slice_blocks({"slices": []}, tmp_path, Path, {}, "run")
    assert isinstance(empty, Text) and empty.kind == "empty" and "No underperforming slice" in empty.text


def test_many_slices_are_cut_and_missing_maps_leave_the_images(tmp_path: Path) -> None:
    summary, outcome = make_atlas(tmp_path, n_slices=3, maps=False)
    summary["slices"] = summary["slices"] * 4  # 12 entries
    table, figure = slice_blocks(summary, tmp_path, lambda p: tmp_path / "data" / p, outcome, "run")
    assert len(table.rows) == MAX_SLICES
    assert "mean unit-mass map" not in figure.caption


def test_damaged_maps_are_a_clear_error(tmp_path: Path) -> None:
    summary, outcome = make_atlas(tmp_path, maps=False)
    store.write_npz(tmp_path / "slices.npz", {"maps": np.zeros((2, 8, 8), np.float32)})
    with pytest.raises(ValueError, match="expected one \\(S, 2, h, w\\)"):
        slice_blocks(summary, tmp_path, lambda p: tmp_path / "data" / p, outcome, "run")


def test_the_page_title_names_the_classes_unless_they_are_cats_and_dogs() -> None:
    from cvd_explorer.report import TITLE, page_title

    assert page_title(("cat", "dog")) == page_title(("Cats", "Dogs")) == TITLE
    assert page_title(("cat", "dog", "fox", "rabbit")) == "Where does the CNN look? 4 classes: cat, dog, fox, rabbit"
    assert page_title(tuple(str(i) for i in range(10))).endswith("10 classes: 0, 1, 2, 3, 4, 5, ...")
