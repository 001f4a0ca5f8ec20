"""The Explorer on a trained run: filters and counts, selection, layer slider, methods, export."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.explain import METHODS
from cvd_explorer.models import block_outputs, conv_layers
from cvd_explorer.runs.run import Run
from cvd_explorer.widgets import Explorer


def png_size(data) -> tuple[int, int]:
    """(width, height) of PNG bytes."""
    im = Image.open(io.BytesIO(bytes(data)))
    assert im.format == "PNG"
    return im.size


@pytest.fixture(scope="module")
def shared_explorer(run_dir):
    ex = Explorer(run_dir, background=False)
    yield ex
    ex.close()


@pytest.fixture
def explorer(shared_explorer):
    """The module's Explorer put back to its opening state (reusing its model and traced steps)."""
    ex = shared_explorer
    ex.filter.value, ex.class_filter.value, ex.sort.value = "all", "all", "name"
    ex.method.value, ex.target.value, ex.layer_kind.value = "gradcam", "predicted", "conv"
    ex.opacity.value, ex.top_k.value, ex.order.value = 0.4, 16, "activation"
    ex.layer.value = ex.layer.options[-1]
    ex.sample = ex.samples[0]
    ex.errors.clear()
    return ex


def test_opens_with_views(explorer, run_dir):
    run = Run(run_dir)
    assert explorer.error.value == ""
    assert len(explorer.samples) == len(run.predictions)
    assert explorer.sample == explorer.samples[0]
    model = run.load_model()
    assert list(explorer.layer.options) == conv_layers(model)
    assert explorer.layer.value == conv_layers(model)[-1]
    assert png_size(explorer.cam_image.value) == (256, 256)
    assert len(bytes(explorer.feature_image.value)) > 0
    w, h = png_size(explorer.strip_image.value)
    assert w > h > 0


def test_layer_slider_changes_cam_and_label(explorer):
    before_cam, before_feat = bytes(explorer.cam_image.value), bytes(explorer.feature_image.value)
    explorer.layer.value = explorer.layer.options[3]
    assert bytes(explorer.cam_image.value) != before_cam
    assert bytes(explorer.feature_image.value) != before_feat
    assert png_size(explorer.cam_image.value) == (256, 256)
    n = len(explorer.layer.options)
    # conv2_block1_0_conv of resnet-mini at 32 px: 8x8 maps, 32 channels
    assert f"{explorer.layer.options[3]} · 4/{n} · 8×8×32" in explorer.layer_label.value


def test_prediction_filter_counts_match_predictions(explorer, run_dir):
    rows = Run(run_dir).predictions
    wrong = [r["path"] for r in rows if not r["correct"]]
    assert wrong, "the fixture run must have misclassified images"
    explorer.filter.value = "misclassified"
    assert sorted(explorer.samples) == sorted(wrong)
    assert f"{len(wrong)} misclassified of {len(rows)}" in explorer.count.value
    assert explorer.sample in wrong  # the first misclassified image is selected
    explorer.filter.value = "correct"
    assert len(explorer.samples) == len(rows) - len(wrong)
    explorer.filter.value = "all"
    explorer.class_filter.value = "cat"
    assert sorted(explorer.samples) == sorted(r["path"] for r in rows if r["label"] == "cat")


def test_sort_by_confidence_and_loss(explorer, run_dir):
    by_path = {r["path"]: r for r in Run(run_dir).predictions}
    explorer.sort.value = "confidence"
    conf = [max(by_path[p]["prob"], 1 - by_path[p]["prob"]) for p in explorer.samples]
    assert conf == sorted(conf, reverse=True)
    explorer.sort.value = "loss"
    losses = [by_path[p]["loss"] for p in explorer.samples]
    assert losses == sorted(losses, reverse=True)


def test_selecting_a_sample_updates_views_and_prediction(explorer, run_dir):
    rows = Run(run_dir).predictions
    cam0 = bytes(explorer.cam_image.value)
    other = explorer.samples[5]
    explorer.sample = other
    row = next(r for r in rows if r["path"] == other)
    assert explorer.sample == other
    assert bytes(explorer.cam_image.value) != cam0
    assert f"{row['prob']:.3f}" in explorer.prediction.value
    assert row["label"] in explorer.prediction.value


def test_gallery_click_selects_and_pages(run_dir):
    ex = Explorer(run_dir, background=False, per_page=4)
    try:
        image, button = ex.gallery.cells[2]
        assert len(bytes(image.value)) > 0 and button.description
        button.click()
        assert ex.sample == ex.samples[2]
        ex.gallery.next.click()
        assert ex.gallery.page == 1
        ex.gallery.cells[0][1].click()
        assert ex.sample == ex.samples[4]
    finally:
        ex.close()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_draws_a_cam(explorer, method):
    explorer.layer.value = explorer.layer.options[-2]
    explorer.method.value = method
    assert explorer.error.value == "", explorer.error.value
    assert png_size(explorer.cam_image.value) == (256, 256)
    assert explorer.explanation is not None and explorer.explanation.method == method


def test_target_and_opacity_change_the_overlay(explorer):
    explorer.layer.value = explorer.layer.options[-4]
    cam0 = bytes(explorer.cam_image.value)
    explorer.opacity.value = 0.9
    cam1 = bytes(explorer.cam_image.value)
    assert cam1 != cam0
    explorer.target.value = "cat"
    explorer.opacity.value = 0.9
    explorer.target.value = "dog"
    assert explorer.explanation.target == "dog"
    assert explorer.error.value == ""


def test_block_outputs_toggle(explorer, run_dir):
    model = Run(run_dir).load_model()
    explorer.layer_kind.value = "blocks"
    assert list(explorer.layer.options) == block_outputs(model)
    assert png_size(explorer.cam_image.value) == (256, 256)
    explorer.layer.value = explorer.layer.options[0]
    assert explorer.layer_label.value.count("·") == 2


def test_feature_grid_top_k_changes_image(explorer):
    explorer.layer.value = explorer.layer.options[5]
    before = bytes(explorer.feature_image.value)
    explorer.top_k.value = 4
    assert bytes(explorer.feature_image.value) != before
    explorer.order.value = "cam-weight"
    assert explorer.error.value == ""


def test_export_writes_png_and_npz(explorer, tmp_path):
    explorer.layer.value = explorer.layer.options[4]
    png, npz = explorer.export(tmp_path / "out")
    layer = explorer.layer.value
    assert png.name.endswith(f"_{layer}.png") and png.is_file() and npz.is_file()
    with np.load(npz) as data:
        assert data["image"].dtype == np.uint8 and data["image"].shape == (32, 32, 3)
        assert data["activations"].shape == explorer.explanation.activations(layer).shape
        assert data["cam"].shape == data["activations"].shape[:2]
        assert str(data["layer"]) == layer
    assert str(png) in explorer.export_result.value
    explorer.export_folder.value = str(tmp_path / "clicked")
    explorer.export_button.click()
    assert (tmp_path / "clicked" / png.name).is_file()


def test_pixel_methods_say_the_layer_slider_does_not_apply_and_cache_per_sample(explorer, tmp_path):
    explorer.method.value = "saliency"
    assert "does not apply" in explorer.method_note.value
    se = explorer.explanation
    assert se is not None and se.is_pixel and explorer.error.value == ""
    first = bytes(explorer.cam_image.value)
    features = bytes(explorer.feature_image.value)
    explorer.layer.value = explorer.layer.options[0]
    assert explorer.explanation is se  # no new computation: one entry per sample and method
    assert bytes(explorer.cam_image.value) == first and bytes(explorer.feature_image.value) != features
    session = explorer.session
    row = session.row(explorer.sample)
    assert all(session.cached(row, "saliency", "predicted", "conv", layer) is se for layer in explorer.layer.options)
    assert session.cache_key(row, "saliency", "predicted", "conv", explorer.layer.value)[-1] is None
    png, npz = explorer.export(tmp_path / "export")
    arrays = np.load(npz)
    assert arrays["attribution"].shape == (*se.image.shape[:2], 3) and str(arrays["method"]) == "saliency"
    assert arrays["cam"].shape == se.image.shape[:2] and png.is_file()
    explorer.method.value = "gradcam"
    assert explorer.method_note.value == ""


def test_guided_gradcam_follows_the_layer_and_integrated_gradients_show_their_gap(explorer, tmp_path):
    explorer.method.value = "guided-gradcam"
    assert "selected layer" in explorer.method_note.value
    deep = bytes(explorer.cam_image.value)
    explorer.layer.value = explorer.layer.options[1]
    assert bytes(explorer.cam_image.value) != deep and explorer.error.value == ""
    explorer.method.value = "integrated-gradients"
    assert explorer.error.value == "", explorer.error.value
    assert "completeness gap" in explorer.cam_note.value
    gap = explorer.explanation.completeness_gap
    assert gap is not None and gap >= 0
    _, npz = explorer.export(tmp_path / "ig")
    assert float(np.load(npz)["completeness_gap"]) == pytest.approx(gap)
