"""The Atlas's views with K classes, on hand-made atlas rows (no model, no training): class colours and
markers, confidence and cleanlab's suggested class, the clickable legend, the K x K confusion matrix
at 10 and 37 classes, per-class depth curves and the mean maps' grid."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.atlas.schema import AtlasRow
from cvd_explorer.explore import atlas_view as av
from cvd_explorer.explore.atlas_figures import depth_png, embedding_png, mean_cams_png
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.atlas_confusion import DENSE_MAX, ConfusionView
from cvd_explorer.widgets.atlas_depth import DepthView
from cvd_explorer.widgets.atlas_legend import LegendView, text_colour
from cvd_explorer.widgets.link import AtlasLink


def kclass_rows(k: int, per_class: int = 3, seed: int = 0) -> list[AtlasRow]:
    """``k * per_class`` rows: class ``c``'s last image is predicted as ``c + 1`` (wrong), the others right;
    ``p`` is the predicted class's probability, as the K-class atlas writes it."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(k):
        for i in range(per_class):
            wrong = i == per_class - 1
            predicted = (c + 1) % k if wrong else c
            rows.append(AtlasRow(
                path=f"{c}/{i}.png", label=str(c), prediction=str(predicted), p=float(rng.uniform(0.2, 0.9)),
                loss=float(rng.uniform(0, 3)), correct=not wrong, x=float(rng.uniform()), y=float(rng.uniform()),
                group="", copy_elsewhere=False, label_score=float(rng.uniform()), suspect=wrong and c % 2 == 0))
    return rows


def points_of(k: int, per_class: int = 3, suggested: dict[str, str] | None = None) -> list[av.AtlasPoint]:
    classes = [str(c) for c in range(k)]
    return av.atlas_points(kclass_rows(k, per_class), lambda p: f"/data/{p}", classes, suggested)


def test_class_colours_repeat_with_another_marker_past_twenty() -> None:
    two = av.class_colours(["cat", "dog"])
    assert [v[:2] for v in two.values()] == list(av.CLASS_COLOURS)  # binary: the two shades as before
    ten = av.class_colours([str(c) for c in range(10)])
    assert len({v[0] for v in ten.values()}) == 10 and {v[2] for v in ten.values()} == {"o"}
    many = av.class_colours([f"breed{c}" for c in range(37)])
    light = [v[0] for v in many.values()]
    assert len(set(light[:20])) == 20 and light[20:] == light[:17]
    assert [v[2] for v in many.values()] == ["o"] * 20 + ["s"] * 17
    for colour, dark, _ in many.values():  # mistakes are darker: every channel at most half
        assert all(int(dark[i:i + 2], 16) <= int(colour[i:i + 2], 16) // 2 + 1 for i in (1, 3, 5))
    cats = av.categories([f"breed{c}" for c in range(37)])
    assert len(cats) == 74 and cats["breed3 · misclassified"] == many["breed3"][1]
    assert text_colour("#f3c300") == "black" and text_colour("#2b3d26") == "white"


def test_confidence_and_suggested_class_of_k_class_points(tmp_path: Path) -> None:
    issues = tmp_path / "label_issues.csv"
    with open(issues, "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "label", "suggested", "score"], ["0/2.png", "0", "1", "0.01"],
                                  ["2/2.png", "2", "3", "0.02"]])
    suggested = av.read_suggestions(issues)
    assert suggested == {"0/2.png": "1", "2/2.png": "3"}
    assert av.read_suggestions(tmp_path / "none.csv") == {}
    points = points_of(5, suggested=suggested)
    rows = kclass_rows(5)
    assert [p.confidence for p in points] == [r.p for r in rows]  # K > 2: p is the predicted class's
    assert av.atlas_points(rows, str)[0].confidence == rows[0].p  # the classes read from the rows
    assert av.confidence_of(0.2, 2) == 0.8  # binary: max(p, 1 - p) as before
    suspect = next(p for p in points if p.path == "0/2.png")
    assert suspect.suspect and suspect.suggested == "1"
    assert "suspected label error (suggested: 1)" in av.badge_text(suspect)
    assert all(p.suggested == "" for p in points if not p.suspect)


def test_legend_selects_a_class_or_its_mistakes() -> None:
    link, points = AtlasLink(), points_of(10)
    legend = LegendView(link, points, [str(c) for c in range(10)], ErrorArea())
    assert list(legend.buttons) == [str(c) for c in range(10)]
    assert legend.buttons["3"].description == "● 3 · 3"
    assert legend.buttons["3"].style.button_color == av.class_colours([str(c) for c in range(10)])["3"][0]
    legend.buttons["3"].click()
    assert link.selection.keys == ("/data/3/0.png", "/data/3/1.png", "/data/3/2.png")
    legend.mistakes_only.value = True
    legend.buttons["3"].click()
    assert link.selection.keys == ("/data/3/2.png",)
    with pytest.raises(ValueError, match="unknown class 'x'"):
        legend.select("x")
    many = LegendView(AtlasLink(), points_of(37, 1), [str(c) for c in range(37)], ErrorArea())
    assert many.buttons["20"].description.startswith("■ 20")  # the second round of colours: another marker


@pytest.mark.parametrize("k", [10, 37])
def test_confusion_matrix_k_by_k_selects_a_cell(k: int) -> None:
    link, points = AtlasLink(), points_of(k)
    classes = [str(c) for c in range(k)]
    view = ConfusionView(link, points, classes, ErrorArea())
    cells = av.confusion_cells(points, classes)
    expected = {cell for cell, keys in cells.items() if keys or k <= DENSE_MAX}
    assert set(view.buttons) == expected  # 37 classes: only the cells holding images are buttons
    assert len(view.buttons) == (k * k if k <= DENSE_MAX else 2 * k)
    for (true, predicted), button in view.buttons.items():
        keys = cells[(true, predicted)]
        assert button.disabled == (not keys) and button.description == (f"{len(keys):,}" if keys else "")
    view.buttons[("4", "5")].click()
    assert link.selection.keys == ("/data/4/2.png",)
    view.buttons[("4", "4")].click()
    assert link.selection.keys == ("/data/4/0.png", "/data/4/1.png")
    assert view.buttons[("4", "4")].layout.grid_row == "6" and view.buttons[("4", "5")].layout.grid_column == "7"
    assert view.buttons[("4", "4")].style.button_color != view.buttons[("4", "5")].style.button_color


def _curves(k: int, by_class: bool = True) -> DepthCurves:
    def curve(base: float) -> dict[str, list[float]]:
        return {"correct": [base, base + 0.1, 1.0], "misclassified": [base - 0.1, base, 1.0]}

    data = {"layers": ["a", "b", "c"], "agreement_with_last": curve(0.5),
            "by_class": {str(c): {"agreement_with_last": curve(0.3 + 0.02 * c)} for c in range(k)} if by_class else {}}
    return DepthCurves.from_json(data)


def test_depth_curves_per_class_one_outcome_or_both() -> None:
    depth = _curves(10)
    assert [s.name for s in av.depth_series(depth, "agreement_with_last")] == ["correct", "misclassified"]
    per = av.depth_series(depth, "agreement_with_last", by_class=True, outcome="correct")
    assert [s.name for s in per] == [f"{c} · correct" for c in range(10)] and per[2].means[0] == pytest.approx(0.34)
    assert len(av.depth_series(depth, "agreement_with_last", by_class=True)) == 20
    with pytest.raises(ValueError, match="outcome must be one of"):
        av.depth_series(depth, "agreement_with_last", by_class=True, outcome="wrong")
    drawn: list[object] = []
    view = DepthView(AtlasLink(), depth, depth.layers, [str(c) for c in range(10)], ErrorArea(), drawn.append)
    assert view.outcome.value == "correct" and view.outcome.layout.display == "none"
    view.draw()
    overall = view.image.value
    view.by_class.value = True
    assert view.outcome.layout.display is None and drawn == [view]
    view.draw()
    per_class = view.image.value
    view.outcome.value = "misclassified"
    view.draw()
    assert len({bytes(overall), bytes(per_class), bytes(view.image.value)}) == 3
    plain = DepthView(AtlasLink(), _curves(10, by_class=False), ["a", "b", "c"], [str(c) for c in range(10)],
                      ErrorArea(), drawn.append)
    assert plain.by_class.layout.display == "none"  # no per-class curves: no switch


def _png_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_figures_with_many_classes() -> None:
    classes = [str(c) for c in range(37)]
    points = points_of(37, 2)
    assert _png_size(embedding_png(points, classes))[0] == 540
    series = av.depth_series(_curves(37), "agreement_with_last", by_class=True, outcome="correct")
    assert _png_size(depth_png(series, ["a", "b", "c"], title="t", classes=classes)) == (600, 240)
    maps = [np.full((32, 32), i + 1.0) for i in range(20)]
    width, height = _png_size(mean_cams_png(maps, [str(i) for i in range(20)], cell=1.0, dpi=50))
    assert (width, height) == (400, 210)  # rows of eight: three rows of 1.4 inches
    assert _png_size(mean_cams_png(maps[:4], list("abcd"), cell=1.0, dpi=50)) == (200, 70)  # one row as before


def test_slices_view_and_issue_triage_on_hand_made_findings() -> None:
    from cvd_explorer.widgets.atlas_slices import SlicesView, error_bar

    points = av.atlas_points(kclass_rows(5), lambda p: f"/data/{p}", [str(c) for c in range(5)],
                             issues={"outlier": {"count": 2, "paths": ["1/0.png", "3/2.png"]}})
    slices = [{"id": 0, "scope": "2", "size": 2, "paths": ["2/2.png", "2/0.png"], "error_rate": 0.5,
               "interval": [0.1, 0.9], "overall_error_rate": 0.33, "p_value": 0.1, "q_value": 0.2,
               "classes": {"2": 2}}]
    link, thumbs = AtlasLink(), []
    view = SlicesView(link, slices, points, ErrorArea(), lambda p: thumbs.append(p.key) or b"\xff\xd8")
    assert view.select(0) == ["/data/2/0.png", "/data/2/2.png"] and link.selection.keys == tuple(view.select(0))
    view.draw()
    assert thumbs == ["/data/2/0.png", "/data/2/2.png"]
    assert "left:18px;width:144px" in error_bar(view.rows[0])  # the interval 0.1-0.9 on 180 px
    with pytest.raises(ValueError, match="slice 1 does not exist"):
        view.select(1)
    empty = SlicesView(AtlasLink(), [], points, ErrorArea(), bytes)
    assert "No underperforming slice" in empty.widget.children[0].value
    assert av.issue_filters({"outlier": {"count": 2}}) == [("data issue: outlier (2)", "data issue: outlier")]
    kept = av.triage(points, "data issue: outlier")
    assert [p.path for p in kept] == ["1/0.png", "3/2.png"] and "◌ outlier" in av.badge_text(kept[0])
    assert av.triage(points, "data issue: non_iid") == []
