"""The Explorer for K classes: target picker ("predicted", "true class", every class by name), the top-5
prediction bars, the "top 3" view, true/predicted class filters and one confusion cell (``show_cell`` and the
clickable matrix), the depth strip, export and probes; on a random 4-class model (fast) and on the 10-class
``digits_run`` (class folders "0".."9")."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.explain import compute_cams
from cvd_explorer.explore.samples import (
    confusion_counts,
    count_text,
    filter_rows,
    rows_from_arrays,
    rows_from_predictions,
)
from cvd_explorer.models import build
from cvd_explorer.runs.run import Run
from cvd_explorer.widgets import Explorer
from cvd_explorer.widgets.explorer_similar import NO_ATLAS, NO_RUN
from tests.widgets.helpers import random_images

FOUR = ("cat", "dog", "fox", "rabbit")


def png_size(data) -> tuple[int, int]:
    im = Image.open(io.BytesIO(bytes(data)))
    assert im.format == "PNG"
    return im.size


def native_cams(model, image: np.ndarray, layers, target, classes) -> dict[str, np.ndarray]:
    """The engine's raw maps at native size, for comparing with the Explorer's cached ones."""
    return compute_cams(model, image[None].astype(np.float32), layers=list(layers), target=target,
                        normalize=False, size="native", classes=classes)


@pytest.fixture(scope="module")
def model4():
    """resnet-mini at 32 px with a 4-unit softmax head, random initialisation."""
    return build("resnet-mini", 32, classes=4)


@pytest.fixture(scope="module")
def four(model4):
    """An Explorer on 12 noise images of a random 4-class model, labels given as names."""
    labels = [FOUR[i % 4] for i in range(12)]
    ex = Explorer(model=model4, images=random_images(12), labels=labels, classes=list(FOUR), background=False)
    yield ex
    ex.close()


@pytest.fixture
def explorer4(four):
    four.show_cell(None, None)
    four.sort.value, four.method.value, four.target.value = "name", "gradcam", "predicted"
    four.top.toggle.value = False
    four.layer.value = four.layer.options[-1]
    four.sample = four.samples[0]
    four.errors.clear()
    return four


# ---------------------------------------------------------------------- the sample table
def test_rows_from_arrays_with_k_classes():
    probs = np.array([[0.1, 0.6, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.2, 0.3]])
    rows = rows_from_arrays(probs, FOUR, ["dog", 3, "fox"])
    assert [r.predicted for r in rows] == ["dog", "cat", "rabbit"]
    assert [r.label for r in rows] == ["dog", "rabbit", "fox"]
    assert [r.correct for r in rows] == [True, False, False]
    assert [r.prob for r in rows] == [0.6, 0.7, 0.3]
    np.testing.assert_allclose([r.loss for r in rows], -np.log([0.6, 0.1, 0.2]))
    assert rows[0].probs == (0.1, 0.6, 0.2, 0.1) and rows[0].confidence == 0.6
    assert rows[2].top(FOUR, 2) == [("rabbit", 0.3), ("cat", 0.25)]
    with pytest.raises(ValueError, match="class index 0..3"):
        rows_from_arrays(probs, FOUR, [0, 1, 4])
    with pytest.raises(ValueError, match="4 class probabilities but 3 class names"):
        rows_from_arrays(probs, FOUR[:3])
    binary = rows_from_arrays([0.9, 0.2], ("cat", "dog"), [1, 1])
    assert [(r.predicted, r.probs) for r in binary] == [("dog", (pytest.approx(0.1), 0.9)), ("cat", (0.8, 0.2))]


def test_predicted_filter_cells_and_counts():
    probs = np.eye(4)[[0, 1, 1, 2, 3, 0, 2, 1]] * 0.7 + 0.075
    labels = ["cat", "dog", "cat", "fox", "rabbit", "fox", "fox", "dog"]
    rows = rows_from_arrays(probs, FOUR, labels)
    counts = confusion_counts(rows, FOUR)
    assert counts.sum() == 8 and counts[0, 1] == 1 and counts[2, 0] == 1 and counts[2, 2] == 2 and counts[1, 1] == 2
    cell = filter_rows(rows, label="fox", predicted="fox")
    assert [r.index for r in cell] == [3, 6]
    assert [r.index for r in filter_rows(rows, predicted="dog")] == [1, 2, 7]
    assert count_text(2, 8, label="fox", predicted="fox") == "2 images (true fox, predicted fox) of 8"
    assert count_text(3, 8, predicted="dog") == "3 images (predicted dog) of 8"
    assert count_text(3, 8, label="dog") == "3 images (dog) of 8"  # as before


# ---------------------------------------------------------------------- arrays: a random 4-class model
def test_arrays_with_a_softmax_model(four, model4):
    probs = model4.predict(random_images(12).astype(np.float32), verbose=0)
    assert [r.predicted for r in four.session.rows] == [FOUR[i] for i in probs.argmax(1)]
    np.testing.assert_allclose([r.probs for r in four.session.rows], probs, rtol=1e-5)
    assert list(four.target.options) == ["predicted", "true class", *FOUR]
    assert list(four.class_filter.options) == ["all", *FOUR] == list(four.predicted_filter.options)
    by_index = Explorer(model=model4, images=random_images(12), labels=[i % 4 for i in range(12)], classes=FOUR,
                        background=False)
    assert [r.label for r in by_index.session.rows] == [r.label for r in four.session.rows]
    by_index.close()


def test_target_class_name_and_true_class(explorer4):
    ex = explorer4
    row = ex.session.row(ex.sample)
    layers = ex.session.layer_sets["conv"]
    ex.target.value = "fox"
    assert ex.error.value == "" and ex.explanation.target == "fox"
    ref = native_cams(ex.session.model, ex.session.image(row), layers, 2, FOUR)
    for layer in layers:
        np.testing.assert_allclose(ex.explanation.explanation.cams[layer][0], ref[layer][0], rtol=1e-4, atol=1e-6)
    for key in ex.samples[:3]:
        ex.sample = key
        ex.target.value = "true class"
        own = ex.session.row(key).label
        assert ex.error.value == "" and ex.explanation.target == own  # explains its own label
        ref = native_cams(ex.session.model, ex.session.image(ex.session.row(key)), layers[-1:], FOUR.index(own), FOUR)
        np.testing.assert_allclose(ex.explanation.explanation.cams[layers[-1]][0], ref[layers[-1]][0], rtol=1e-4,
                                   atol=1e-6)


def test_prediction_box_has_the_top_classes_as_bars(explorer4):
    ex = explorer4
    for key in ex.samples[:4]:
        ex.sample = key
        row = ex.session.row(key)
        text = ex.prediction.value
        names = re.findall(r"<tr class='cvd-top-class'><td[^>]*>([^<]+)</td>", text)
        order = [FOUR[i] for i in np.argsort(-np.asarray(row.probs), kind="stable")]
        assert names == order  # K = 4 < 5: every class, most probable first
        assert text.count("◀ true") == 1 and re.search(rf">{row.label}</td>.*?◀ true", text)
        assert f"p({row.predicted})" in text and f"{row.prob:.3f}" in text


def test_show_cell_predicted_filter_and_confusion_grid(explorer4):
    ex = explorer4
    rows = ex.session.rows
    counts = confusion_counts(rows, FOUR)
    for (true, pred), button in ex.confusion.cells.items():
        n = int(counts[FOUR.index(true), FOUR.index(pred)])
        assert button.description == str(n) and button.disabled == (n == 0)
    true, pred = next(k for k, b in ex.confusion.cells.items() if not b.disabled)
    ex.filter.value = "misclassified"
    ex.show_cell(true, pred)
    expected = sorted(r.key for r in rows if r.label == true and r.predicted == pred)
    assert sorted(ex.samples) == expected and ex.filter.value == "all"
    assert f"<b>{len(expected)} images (true {true}, predicted {pred}) of 12</b>" == ex.count.value
    assert ex.confusion.cells[(true, pred)].button_style == "info"
    ex.clear_filters.click()
    assert len(ex.samples) == 12 and ex.count.value == "<b>12 images of 12</b>"
    ex.confusion.cells[(true, pred)].click()
    assert sorted(ex.samples) == expected
    ex.show_cell(None, None)
    for name in FOUR:
        ex.predicted_filter.value = name
        assert sorted(ex.samples) == sorted(r.key for r in rows if r.predicted == name)
    ex.predicted_filter.value = "all"
    with pytest.raises(ValueError, match="unknown true class 'wolf'"):
        ex.show_cell("wolf", "cat")


def test_top_three_view_is_cached_and_matches_the_engine(explorer4, monkeypatch):
    ex = explorer4
    row = ex.session.row(ex.sample)
    layer = ex.layer.value
    ex.top.toggle.value = True
    assert ex.error.value == ""
    top = [name for name, _ in row.top(FOUR, 3)]
    assert [se.target for se in ex.top.explanations] == top
    for se, image, caption in zip(ex.top.explanations, ex.top.images, ex.top.captions, strict=True):
        assert png_size(image.value) == (256, 256) and se.target in caption.value
        ref = native_cams(ex.session.model, ex.session.image(row), [layer], FOUR.index(se.target), FOUR)
        np.testing.assert_allclose(se.explanation.cams[layer][0], ref[layer][0], rtol=1e-4, atol=1e-6)
        assert ex.session.cached(row, "gradcam", se.target, "conv") is se  # through the session cache
    import cvd_explorer.explain

    calls = []
    monkeypatch.setattr(cvd_explorer.explain, "explain_all", lambda *a, **k: calls.append(a))
    before = [bytes(i.value) for i in ex.top.images]
    ex.layer.value = ex.layer.options[2]  # a slider step redraws the three from the cache
    assert [bytes(i.value) for i in ex.top.images] != before and calls == []
    ex.target.value = top[1]  # the second class: a cache hit, same maps
    assert ex.explanation is ex.top.explanations[1]


def test_more_like_this_is_disabled_without_an_atlas(four):
    assert four.similar.button.disabled and four.similar.button.tooltip == NO_RUN
    assert "cvd-explorer atlas RUN" in NO_ATLAS and "cvd-explorer atlas RUN" in NO_RUN


# ---------------------------------------------------------------------- the 10-class digits run
@pytest.fixture(scope="module")
def digits(digits_run: Path):
    ex = Explorer(digits_run, background=False)
    yield ex
    ex.close()


def test_digits_targets_and_the_cam_of_class_3(digits, digits_run):
    run = Run(digits_run)
    classes = tuple(str(i) for i in range(10))
    assert run.classes == classes
    assert list(digits.target.options) == ["predicted", "true class", *classes]
    assert list(digits.class_filter.options) == ["all", *classes] == list(digits.predicted_filter.options)
    digits.target.value = "3"
    se = digits.explanation
    assert digits.error.value == "" and se.target == "3"
    layers = digits.session.layer_sets["conv"]
    ref = compute_cams(digits.session.model, se.image[None].astype(np.float32), layers=list(layers), target=3,
                       normalize=False, size="native", classes=classes)
    for layer in layers:
        np.testing.assert_allclose(se.explanation.cams[layer][0], ref[layer][0], rtol=1e-5, atol=1e-7)
    shown = compute_cams(digits.session.model, se.image[None].astype(np.float32), layers=[layers[-1]], target=3,
                         size="native", classes=classes)[layers[-1]][0]
    np.testing.assert_allclose(se.cam(layers[-1]), shown, atol=1e-6)  # the map drawn is the engine's, normalised
    digits.target.value = "predicted"


def test_digits_filters_and_cells_match_the_predictions(digits, digits_run):
    run = Run(digits_run)
    rows = run.predictions
    matrix = np.array(json.loads((digits_run / "summary.json").read_text())["confusion_matrix"])
    grid = np.array([[int(digits.confusion.cells[(t, p)].description) for p in run.classes] for t in run.classes])
    np.testing.assert_array_equal(grid, matrix)
    for t, p in [(t, p) for t in run.classes for p in run.classes if matrix[int(t), int(p)]][:6]:
        digits.show_cell(t, p)
        assert sorted(digits.samples) == sorted(r["path"] for r in rows if r["label"] == t and r["predicted"] == p)
    digits.show_cell(None, None)
    predicted = rows[0]["predicted"]
    digits.predicted_filter.value = predicted
    assert sorted(digits.samples) == sorted(r["path"] for r in rows if r["predicted"] == predicted)
    assert f"(predicted {predicted}) of {len(rows)}" in digits.count.value
    digits.predicted_filter.value = "all"
    assert rows_from_predictions(rows)[0].probs == tuple(rows[0]["probs"]) and len(rows[0]["probs"]) == 10


def test_digits_strip_export_top3_and_bars(digits, digits_run, tmp_path):
    digits.sample = digits.samples[1]
    row = digits.session.row(digits.sample)
    assert digits.prediction.value.count("cvd-top-class") == 5
    w, h = png_size(digits.strip_image.value)
    assert w > h > 0
    digits.strip_n.value = 4
    assert png_size(digits.strip_image.value)[0] < w
    layer = digits.layer.value
    png, npz = digits.export(tmp_path)
    data = np.load(npz)
    c = digits.session.layer_shape(layer)
    assert data["image"].shape == (32, 32, 3) and data["activations"].shape == c
    assert data["cam"].shape == c[:2] and data["channel_weights"].shape == (c[2],)
    assert float(data["prob"]) == pytest.approx(row.prob) and png.is_file()
    assert data["probs"].shape == (10,)
    np.testing.assert_allclose(data["probs"], row.probs, rtol=1e-6)
    digits.top.toggle.value = True
    assert [se.target for se in digits.top.explanations] == [n for n, _ in row.top(digits.session.classes, 3)]
    digits.top.toggle.value = False
    from cvd_explorer.atlas import find_atlas

    # the session's digits_run may already have its atlas (the CLI test computes one): the button follows it
    has_atlas = find_atlas(Run(digits_run)) is not None
    assert digits.similar.button.disabled == (not has_atlas)
    assert has_atlas or digits.similar.button.tooltip == NO_ATLAS


@pytest.mark.slow
def test_probes_of_a_k_class_run(digits_data: Path, tmp_path_factory: pytest.TempPathFactory):
    from cvd_explorer.explore.probes import ProbeHistory, epoch_view
    from tests.kclass_fixtures import cli_run

    out = cli_run(digits_data, tmp_path_factory.mktemp("digits-probes") / "run", extra=("--probes", "4"))
    history = ProbeHistory.open(out)
    assert history is not None and history.epochs == [1, 2]
    ex = Explorer(out, background=False)
    ex.sample = str(history.data_root / history.spec.images[2])
    ex.layer_kind.value = "blocks"
    ex.layer.value = history.layers[-1]
    assert ex.error.value == "" and not ex.probes.epoch.disabled and ex.probes.note.value == ""
    ex.probes.epoch.value = 1
    shown = np.asarray(Image.open(io.BytesIO(bytes(ex.probes.image.value))).convert("RGB"))
    np.testing.assert_array_equal(shown, epoch_view(history, 2, history.layers[-1], 1))
    ex.close()
