"""compute_cams / explain_all / feature_maps behaviour: targets, batching, one pass, errors."""

from __future__ import annotations

import gc
import weakref

import keras
import numpy as np
import pytest

from cvd_explorer.errors import ModelError
from cvd_explorer.explain import ExplainError, compute_cams, explain_all, feature_maps
from cvd_explorer.explain import activations as act_mod
from tests.unit.explain_fixtures import images, oracle_acts_grads, tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model("sigmoid", seed=5)


@pytest.fixture(scope="module")
def x():
    return images(6, seed=6)


def _logits(model, x):
    _, _, z = oracle_acts_grads(model, x, "conv_b")
    return z


def test_cat_and_dog_maps_differ_and_are_opposite_raw(model, x):
    dog = compute_cams(model, x, layers=["conv_b"], target="dog", normalize=False, size="native")["conv_b"]
    cat = compute_cams(model, x, layers=["conv_b"], target="cat", normalize=False, size="native")["conv_b"]
    np.testing.assert_allclose(cat, -dog, rtol=1e-5, atol=1e-8)
    ndog = compute_cams(model, x, layers=["conv_b"], target="dog")["conv_b"]
    ncat = compute_cams(model, x, layers=["conv_b"], target="cat")["conv_b"]
    assert np.abs(ndog - ncat).max() > 0.1


def test_class_index_and_custom_class_names(model, x):
    dog = compute_cams(model, x, layers=["conv_b"], target="dog")["conv_b"]
    np.testing.assert_array_equal(compute_cams(model, x, layers=["conv_b"], target=1)["conv_b"], dog)
    named = compute_cams(model, x, layers=["conv_b"], target="wolf", classes=("husky", "wolf"))["conv_b"]
    np.testing.assert_array_equal(named, dog)


def test_callable_target_on_logits(model, x):
    dog = compute_cams(model, x, layers=["conv_b"], target="dog", normalize=False)["conv_b"]
    twice = compute_cams(model, x, layers=["conv_b"], target=lambda z: 2.0 * z[:, 0], normalize=False)["conv_b"]
    np.testing.assert_allclose(twice, 2 * dog, rtol=1e-5, atol=1e-8)


def test_predicted_picks_each_images_class():
    model = tiny_model("sigmoid", seed=7)
    # shift the bias so that the batch holds both predictions
    x = images(8, seed=8)
    z = _logits(model, x)
    dense = model.get_layer("predictions")
    saved = [v.numpy() for v in dense.weights]
    try:
        dense.bias.assign(saved[1] - np.median(z))
        z = _logits(model, x)
        assert (z >= 0).any() and (z < 0).any()
        pred = compute_cams(model, x, layers=["conv_b"], target="predicted")["conv_b"]
        dog = compute_cams(model, x, layers=["conv_b"], target="dog")["conv_b"]
        cat = compute_cams(model, x, layers=["conv_b"], target="cat")["conv_b"]
        for i in range(len(x)):
            np.testing.assert_allclose(pred[i], dog[i] if z[i] >= 0 else cat[i], atol=1e-6)
    finally:
        dense.set_weights(saved)


def test_batch_equals_single(model, x):
    batch = compute_cams(model, x, method="gradcam++", batch_size=4)
    for i in (0, 5):
        single = compute_cams(model, x[i : i + 1], method="gradcam++")
        for name in batch:
            np.testing.assert_allclose(batch[name][i], single[name][0], atol=1e-5)


def test_one_pass_equals_per_layer(model, x):
    together = compute_cams(model, x, layers=["conv_a", "conv_b"], method="layercam")
    for name in ("conv_a", "conv_b"):
        alone = compute_cams(model, x, layers=[name], method="layercam")[name]
        np.testing.assert_allclose(together[name], alone, atol=1e-6)


def test_default_layers_are_conv_layers_and_sizes(model, x):
    cams = compute_cams(model, x)
    assert list(cams) == ["conv_a", "conv_b"]
    assert cams["conv_b"].shape == (6, 16, 16)
    native = compute_cams(model, x, size="native")
    assert native["conv_a"].shape == (6, 14, 14) and native["conv_b"].shape == (6, 6, 6)


def test_input_size_is_keras_bilinear_resize_then_relu_and_peak_scaling(model, x):
    native = compute_cams(model, x, size="native", normalize=False)
    cams = compute_cams(model, x)
    for name, raw in native.items():
        resized = keras.ops.image.resize(raw[..., None], (16, 16), interpolation="bilinear")
        up = keras.ops.convert_to_numpy(resized)[..., 0]
        up = np.maximum(up, 0)
        expected = up / up.max(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(cams[name], expected, atol=1e-5)
        assert cams[name].dtype == np.float32 and cams[name].flags.writeable
        assert (cams[name].max(axis=(1, 2)) == 1.0).all()
        cams[name][:] = 0  # the caller owns the arrays


def test_all_zero_map_stays_zero_not_nan(x):
    model = tiny_model(None, seed=9)
    dense = model.get_layer("predictions")
    dense.kernel.assign(np.zeros(dense.kernel.shape, np.float32))
    cams = compute_cams(model, x, target="dog")
    for cam in cams.values():
        assert np.isfinite(cam).all() and not cam.any()


def test_feature_maps_match_layer_outputs(model, x):
    maps = feature_maps(model, x, ["conv_b", "conv_a"])
    assert list(maps) == ["conv_b", "conv_a"]
    A, _, _ = oracle_acts_grads(model, x, "conv_b")
    np.testing.assert_allclose(maps["conv_b"], A, rtol=1e-5, atol=1e-6)
    assert maps["conv_a"].dtype == np.float32 and maps["conv_a"].shape == (6, 14, 14, 4)


def test_explain_all_bundles_everything(model, x):
    exp = explain_all(model, x, method="gradcam", target="dog")
    assert exp.layers == ("conv_a", "conv_b")
    assert exp.activations["conv_b"].shape == (6, 6, 6, 6)
    assert exp.cams["conv_b"].shape == (6, 6, 6) and exp.channel_weights["conv_b"].shape == (6, 6)
    np.testing.assert_allclose(exp.logits, _logits(model, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(exp.probs, model.predict(x, verbose=0)[:, 0], rtol=1e-5, atol=1e-6)
    raw = compute_cams(model, x, target="dog", normalize=False, size="native")
    np.testing.assert_allclose(exp.cams["conv_b"], raw["conv_b"], rtol=1e-5, atol=1e-8)
    A, G, _ = oracle_acts_grads(model, x, "conv_b")
    np.testing.assert_allclose(exp.channel_weights["conv_b"], G.mean(axis=(1, 2)), rtol=1e-4, atol=1e-8)


def test_errors_name_the_choices(model, x):
    with pytest.raises(ValueError, match="gradcam.*eigencam"):
        compute_cams(model, x, method="smoothcam")
    with pytest.raises(ValueError, match=r"pixel attribution.*attribute\(model, images, 'smoothgrad'\)"):
        compute_cams(model, x, method="smoothgrad")
    with pytest.raises(ExplainError, match="no layer named 'conv_z'.*conv_a"):
        compute_cams(model, x, layers=["conv_z"])
    with pytest.raises(ValueError, match=r"avg_pool.*\(None, 6\).*conv_b"):
        compute_cams(model, x, layers=["avg_pool"])
    with pytest.raises(ValueError, match=r"\(N, 16, 16, 3\).*\(2, 8, 8, 3\)|\(2, 8, 8, 3\).*\(N, 16, 16, 3\)"):
        compute_cams(model, np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="batch axis"):
        compute_cams(model, x[0])
    with pytest.raises(ModelError, match="'predicted'.*'cat', 'dog'"):
        compute_cams(model, x, target="horse")
    with pytest.raises(ValueError, match="one layer"):
        compute_cams(model, x, method="scorecam")
    with pytest.raises(ValueError, match="'input' or 'native'"):
        compute_cams(model, x, size="big")


def test_trace_is_cached_and_cache_does_not_keep_model_alive(x):
    model = tiny_model("sigmoid", seed=10)
    compute_cams(model, x)
    compute_cams(model, x[:2])  # other batch size: same trace
    entries = act_mod._CACHE[model]
    assert len(entries) == 1
    step = next(iter(entries.values()))
    assert step.experimental_get_tracing_count() <= 2
    ref = weakref.ref(model)
    del model, entries, step
    gc.collect()
    assert ref() is None


def test_frozen_backbone_still_has_gradients(x):
    model = tiny_model("sigmoid", seed=11)
    for layer in model.layers:
        layer.trainable = False
    cams = compute_cams(model, x, target="dog", normalize=False)
    assert np.abs(cams["conv_b"]).max() > 0
    assert isinstance(model, keras.Model)
