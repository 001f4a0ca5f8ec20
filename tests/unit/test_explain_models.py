"""Model kinds: no mutation, nested models, reloaded .keras files, mixed precision, saturation, ResNets."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvd_explorer.explain import compute_cams, explain_all, feature_maps
from cvd_explorer.models import block_outputs, build, conv_layers
from tests.unit.explain_fixtures import images, tiny_model


@pytest.fixture(scope="module")
def mini():
    keras.utils.set_random_seed(0)
    return build("resnet-mini", 32)


@pytest.fixture(scope="module")
def x32():
    return images(2, seed=12, size=32)


def test_model_is_not_mutated(mini, x32):
    before_w = [w.copy() for w in mini.get_weights()]
    head = mini.get_layer("predictions")
    before_act, before_layers, before_outputs = head.activation, list(mini.layers), list(mini.outputs)
    before_pred = mini.predict(x32, verbose=0)
    for method in ("gradcam", "eigencam"):
        compute_cams(mini, x32, method=method)
    compute_cams(mini, x32, layers=["conv5_block1_out"], method="scorecam", top_k=4)
    explain_all(mini, x32)
    after_w = mini.get_weights()
    assert len(after_w) == len(before_w)
    assert all(a.dtype == b.dtype and a.tobytes() == b.tobytes() for a, b in zip(after_w, before_w, strict=True))
    assert head.activation is before_act and head.activation.__name__ == "sigmoid"
    assert list(mini.layers) == before_layers and list(mini.outputs) == before_outputs
    np.testing.assert_array_equal(mini.predict(x32, verbose=0), before_pred)


def _nested_pair(mini):
    """A Sequential and a functional model that nest mini's backbone and reuse its head."""
    backbone = keras.Model(mini.input, mini.get_layer("conv5_block1_out").output, name="backbone")
    seq = keras.Sequential(
        [keras.Input((32, 32, 3)), backbone, mini.get_layer("avg_pool"), mini.get_layer("predictions")], name="seq"
    )
    inp = keras.Input((32, 32, 3), name="outer_image")
    h = keras.layers.Identity(name="outer_identity")(inp)
    out = mini.get_layer("predictions")(mini.get_layer("avg_pool")(backbone(h)))
    return seq, keras.Model(inp, out, name="functional_nest")


def test_nested_models_give_the_flat_models_maps(mini, x32):
    layers = ["conv1_conv", "conv3_block1_2_conv", "conv5_block1_out"]
    flat = compute_cams(mini, x32, layers=layers, target="dog")
    for nested in _nested_pair(mini):
        assert conv_layers(nested) == conv_layers(mini)
        cams = compute_cams(nested, x32, layers=layers, target="dog")
        for name in layers:
            np.testing.assert_allclose(cams[name], flat[name], atol=1e-5)
        all_cams = compute_cams(nested, x32)
        assert len(all_cams) == 20


def test_keras_applications_backbone_nested_in_sequential():
    keras.utils.set_random_seed(1)
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    model = keras.Sequential(
        [backbone, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.build((None, 32, 32, 3))
    x = images(1, seed=13, size=32)
    cams = compute_cams(model, x, layers=["conv4_block6_out", "conv5_block3_out"], target="dog")
    assert all(np.isfinite(c).all() and c.max() == pytest.approx(1.0) for c in cams.values())


def test_reloaded_keras_file_gives_the_same_maps(mini, x32, tmp_path):
    path = tmp_path / "mini.keras"
    mini.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    layers = ["conv2_block1_out", "conv5_block1_3_conv"]
    a = compute_cams(mini, x32, layers=layers, method="xgradcam")
    b = compute_cams(again, x32, layers=layers, method="xgradcam")
    for name in layers:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5)


def test_mixed_float16_model():
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        model16 = build("resnet-mini", 32)
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.config.dtype_policy().name == previous.name
    assert model16.get_layer("conv1_conv").compute_dtype == "float16"
    x = images(2, seed=14, size=32)
    model32 = build("resnet-mini", 32)
    model32.set_weights(model16.get_weights())
    layers = ["conv3_block1_out", "conv4_block2_out"]
    half = compute_cams(model16, x, layers=layers, target="dog")
    full = compute_cams(model32, x, layers=layers, target="dog")
    maps = feature_maps(model16, x, layers)
    assert maps["conv4_block2_out"].dtype == np.float32
    for name in layers:
        assert half[name].dtype == np.float32 and np.isfinite(half[name]).all() and half[name].max() > 0
        assert np.corrcoef(half[name].ravel(), full[name].ravel())[0, 1] > 0.95


def test_saturated_predictions_give_finite_nonzero_maps():
    model = tiny_model("sigmoid", seed=15)
    x = images(3, seed=16)
    dense = model.get_layer("predictions")
    dense.bias.assign(np.array([25.0], np.float32))  # p = 1 - 1e-11 in float64; exactly 1.0 in float32
    assert (model.predict(x, verbose=0) == 1.0).all()  # saturated: the probability carries no gradient
    for target in ("dog", "cat", "predicted"):
        for method in ("gradcam", "gradcam++", "layercam"):
            cams = compute_cams(model, x, method=method, target=target)
            assert all(np.isfinite(c).all() for c in cams.values())
        assert cams["conv_b"].max() > 0
    exp = explain_all(model, x)
    assert np.all(exp.logits > 20)


def test_block_outputs_are_accepted(mini, x32):
    names = block_outputs(mini)
    cams = compute_cams(mini, x32, layers=names, size="native")
    assert list(cams) == names and cams[names[-1]].shape == (2, 4, 4)  # output stride 8 at 32 px


@pytest.mark.slow
@pytest.mark.parametrize("arch,n_conv,n_blocks", [("resnet50", 53, 16), ("resnet101", 104, 33)])
def test_full_resnets_at_64px(arch, n_conv, n_blocks):
    model = build(arch, 64)
    assert len(conv_layers(model)) == n_conv and len(block_outputs(model)) == n_blocks
    x = images(2, seed=17, size=64)
    layers = conv_layers(model) if arch == "resnet50" else block_outputs(model)
    cams = compute_cams(model, x, layers=layers, batch_size=2)
    assert len(cams) == len(layers)
    assert all(c.shape == (2, 64, 64) and np.isfinite(c).all() for c in cams.values())
