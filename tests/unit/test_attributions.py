"""Pixel attributions: numbers against tf-keras-vis and independent references, completeness, no mutation."""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stderr

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvd_explorer.explain import (
    PIXEL_METHODS,
    ExplainError,
    SmoothOptions,
    attribute,
    completeness_gap,
    compute_cams,
    explain_pixels,
    predict_logits,
)
from cvd_explorer.explain.metrics import randomization_check, rank_correlation
from cvd_explorer.explain.pixel import baseline_images
from tests.unit.explain_fixtures import images, tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def x():
    return images(3, seed=2)


def relu_model(seed: int = 1, size: int = 12) -> keras.Model:
    """A small ReLU network with non-zero biases (so integrated gradients' path is not linear)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3))
    h = keras.layers.Rescaling(1 / 255.0)(inp)
    h = keras.layers.Conv2D(5, 3, activation="relu", bias_initializer=keras.initializers.RandomNormal(0, 0.3))(h)
    h = keras.layers.Conv2D(4, 3, bias_initializer=keras.initializers.RandomNormal(0, 0.3), name="conv_last")(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(6, activation="relu", bias_initializer=keras.initializers.RandomNormal(0, 0.3))(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="predictions")(h)
    return keras.Model(inp, out)


def _keras_vis_saliency(model, x, sign, **kwargs):
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

    sal = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    return np.asarray(sal(lambda out: sign * out[:, 0], x, normalize_map=False, **kwargs))


def test_every_pixel_method_gives_unit_maps_and_signed_attributions(model, x):
    for method in PIXEL_METHODS:
        maps = attribute(model, x, method)
        assert maps.shape == (3, 16, 16) and maps.dtype == np.float32 and np.isfinite(maps).all()
        assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1.0)
        signed = attribute(model, x, method, reduce=None)
        assert signed.shape == x.shape and signed.dtype == np.float32
        expected = np.abs(signed).max(-1)
        np.testing.assert_allclose(maps, expected / expected.max(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-6)


def test_saliency_matches_tf_keras_vis(model, x):
    ours = attribute(model, x, "saliency", target="dog", reduce=None)
    theirs = _keras_vis_saliency(model, x, 1.0, keepdims=True, gradient_modifier=None)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * np.abs(theirs).max())
    cat = attribute(model, x, "saliency", target="cat")  # max-abs map: tf-keras-vis' default |grad|, max over channels
    ref = _keras_vis_saliency(model, x, -1.0)
    np.testing.assert_allclose(cat, ref / ref.max(axis=(1, 2), keepdims=True), rtol=1e-4, atol=1e-6)


def test_smoothgrad_with_zero_noise_is_saliency_and_matches_tf_keras_vis_with_enough_samples(model, x):
    sal = attribute(model, x, "saliency", reduce=None)
    zero = attribute(model, x, "smoothgrad", reduce=None, samples=4, noise=0.0)
    np.testing.assert_allclose(zero, sal, rtol=1e-5, atol=1e-6 * np.abs(sal).max())
    target = "dog"
    ours = attribute(model, x, "smoothgrad", target=target, reduce=None, samples=200, noise=0.2, seed=1)
    np.random.seed(3)
    theirs = _keras_vis_saliency(model, x, 1.0, smooth_samples=200, smooth_noise=0.2, keepdims=True,
                                 gradient_modifier=None)
    for a, b in zip(ours, theirs, strict=True):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
    # and the noise does something: a different seed gives different (but similar) maps
    other = attribute(model, x, "smoothgrad", target=target, reduce=None, samples=200, noise=0.2, seed=2)
    assert not np.allclose(other, ours)


def test_integrated_gradients_complete_within_one_percent_at_128_steps():
    m = relu_model(seed=1)
    xs = images(3, seed=3, size=12)
    z = predict_logits(m, xs)[:, 0]
    delta = z - predict_logits(m, np.zeros_like(xs))[:, 0]  # predicted class: the sign of z
    assert np.abs(delta).min() > 0.2  # the gap is relative to this difference: it must not be tiny
    sign = np.where(z >= 0, 1.0, -1.0)
    gaps = {}
    for steps in (16, 128):
        a = attribute(m, xs, "integrated-gradients", reduce=None, steps=steps)
        gaps[steps] = completeness_gap(m, xs, a, "black")
        independent = np.abs(a.reshape(3, -1).sum(1) - sign * delta) / np.abs(delta)
        np.testing.assert_allclose(gaps[steps], independent, rtol=1e-3, atol=1e-6)
    assert gaps[128].max() < 0.01, gaps
    assert gaps[16].max() > gaps[128].max()  # the gap measures something: too few steps show it
    e = explain_pixels(m, xs, "integrated-gradients", steps=128)
    np.testing.assert_allclose(e.completeness_gap, gaps[128], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("baseline", ["blur", "noise"])
def test_integrated_gradients_from_blur_and_noise_baselines_converge(baseline):
    m = relu_model(seed=1)
    xs = images(3, seed=3, size=12)
    x0 = baseline_images(xs, baseline)
    assert x0.shape == xs.shape and not np.allclose(x0, xs) and not np.allclose(x0, 0)
    sign = np.where(predict_logits(m, xs)[:, 0] >= 0, 1.0, -1.0)
    delta = sign * (predict_logits(m, xs)[:, 0] - predict_logits(m, x0)[:, 0])
    errors = []
    for steps in (4, 128):
        a = attribute(m, xs, "integrated-gradients", reduce=None, steps=steps, baseline=baseline)
        errors.append(np.abs(a.reshape(3, -1).sum(1) - delta).max())
    assert errors[1] < 2e-3 and errors[1] < errors[0]  # logit units


def test_integrated_gradients_equal_the_exact_integral_of_a_linear_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 4, 3))
    out = keras.layers.Dense(1, activation="sigmoid", name="predictions")(keras.layers.Flatten()(inp))
    m = keras.Model(inp, out)
    xs = images(2, seed=1, size=4)
    a = attribute(m, xs, "integrated-gradients", target="dog", reduce=None, steps=3)
    w = m.get_layer("predictions").kernel.numpy().reshape(4, 4, 3)
    np.testing.assert_allclose(a, xs * w[None], rtol=1e-4, atol=1e-4)


def _guided_reference(m: keras.Model, x: np.ndarray) -> np.ndarray:
    """The guided rule on a rebuilt copy of :func:`relu_model` whose ReLUs are custom-gradient ops."""

    @tf.custom_gradient
    def guided_relu(h):
        y = tf.nn.relu(h)
        return y, lambda dy: dy * tf.cast(h > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)

    conv1, conv2, dense1, dense2 = (layer for layer in m.layers if layer.weights)
    xt = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        h = xt / 255.0
        h = guided_relu(tf.nn.conv2d(h, conv1.kernel, 1, "VALID") + conv1.bias)
        h = guided_relu(tf.nn.conv2d(h, conv2.kernel, 1, "VALID") + conv2.bias)
        h = tf.reshape(h, (len(x), -1))
        h = guided_relu(h @ dense1.kernel + dense1.bias)
        z = h @ dense2.kernel + dense2.bias
        score = tf.reduce_sum(z)
    return tape.gradient(score, xt).numpy()


def test_guided_backprop_matches_a_custom_gradient_reference_and_differs_from_saliency():
    m = relu_model(seed=3)
    xs = images(3, seed=7, size=12)
    ours = attribute(m, xs, "guided-backprop", target="dog", reduce=None)
    ref = _guided_reference(m, xs)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    assert not np.allclose(ours, attribute(m, xs, "saliency", target="dog", reduce=None))


def test_guided_gradcam_is_guided_backprop_times_the_upsampled_gradcam(model, x):
    guided = attribute(model, x, "guided-backprop", target="cat", reduce=None)
    cam = compute_cams(model, x, ["conv_b"], target="cat")["conv_b"]  # [0, 1], at the input size
    got = attribute(model, x, "guided-gradcam", target="cat", reduce=None)
    np.testing.assert_allclose(got, guided * cam[..., None], rtol=1e-4, atol=1e-9)
    at_a = attribute(model, x, "guided-gradcam", target="cat", reduce=None, layer="conv_a")
    assert not np.allclose(at_a, got)


def test_nothing_in_the_model_changes():
    m = relu_model(seed=4)
    xs = images(2, seed=1, size=12)
    before = [w.copy() for w in m.get_weights()]
    layers = list(m.layers)
    acts = [getattr(layer, "activation", None) for layer in layers]
    outputs = list(m.outputs)
    for method in PIXEL_METHODS:
        attribute(m, xs, method)
    assert list(m.layers) == layers and list(m.outputs) == outputs
    assert [getattr(layer, "activation", None) for layer in m.layers] == acts
    for a, b in zip(before, m.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # the plain gradient still flows through the untouched ReLUs
    xt = tf.convert_to_tensor(xs)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        p = m(xt)
    g = tape.gradient(p, xt).numpy()
    sal = attribute(m, xs, "saliency", target="dog", reduce=None)
    prob = m.predict(xs, verbose=0)[:, 0]
    np.testing.assert_allclose(g, sal * (prob * (1 - prob))[:, None, None, None], rtol=1e-3, atol=1e-9)


def test_targets_follow_the_cam_rules(model, x):
    dog = attribute(model, x, "saliency", target="dog", reduce=None)
    np.testing.assert_allclose(attribute(model, x, "saliency", target="cat", reduce=None), -dog, rtol=1e-6)
    np.testing.assert_allclose(attribute(model, x, "saliency", target=1, reduce=None), dog, rtol=1e-6)
    z = explain_pixels(model, x, "saliency").logits
    predicted = attribute(model, x, "saliency", reduce=None)
    sign = np.where(z >= 0, 1.0, -1.0)[:, None, None, None]
    np.testing.assert_allclose(predicted, sign * dog, rtol=1e-6)
    per_image = attribute(model, x, "saliency", target=[1, 0, 1], reduce=None)
    np.testing.assert_allclose(per_image, np.array([1, -1, 1])[:, None, None, None] * dog, rtol=1e-6)
    fn = attribute(model, x, "saliency", target=lambda logits: 2.0 * logits[:, 0], reduce=None)
    np.testing.assert_allclose(fn, 2 * dog, rtol=1e-5)


def test_nested_reloaded_and_mixed_precision_models(tmp_path, x):
    inner = tiny_model()
    inp = keras.Input((16, 16, 3))
    outer = keras.Model(inp, inner(inp), name="outer")
    flat = attribute(inner, x, "guided-backprop", target="dog", reduce=None)
    np.testing.assert_allclose(attribute(outer, x, "guided-backprop", target="dog", reduce=None), flat, rtol=1e-5)
    path = tmp_path / "m.keras"
    inner.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(attribute(reloaded, x, "guided-backprop", target="dog", reduce=None), flat, rtol=1e-5)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        half = tiny_model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    half.set_weights(inner.get_weights())
    for method in PIXEL_METHODS:
        maps = attribute(half, x, method, target="dog", steps=8) if method == "integrated-gradients" else \
            attribute(half, x, method, target="dog")
        assert maps.dtype == np.float32 and np.isfinite(maps).all()
    ours = attribute(half, x, "saliency", target="dog")
    full = attribute(inner, x, "saliency", target="dog")
    assert all(rank_correlation(a, b) > 0.9 for a, b in zip(ours, full, strict=True))


def test_unknown_options_and_bad_values_are_clear_errors(model, x):
    cases = [
        (dict(method="saliency", steps=4), "saliency has no option 'steps'"),
        (dict(method="smoothgrad", samples=0), "samples must be an integer >= 1"),
        (dict(method="smoothgrad", noise=-1.0), "noise must be a number >= 0"),
        (dict(method="integrated-gradients", baseline="white"), "unknown baseline 'white'"),
        (dict(method="integrated-gradients", steps=2.5), "steps must be an integer"),
        (dict(method="guided-gradcam", layer="nope"), "no layer named 'nope'"),
        (dict(method="gradcam"), "layer CAM, not a pixel attribution"),
        (dict(method="nope"), "unknown method 'nope'"),
        (dict(method="saliency", reduce="sum"), "reduce must be 'max-abs' or None"),
        (dict(method="saliency", target="horse"), "unknown target 'horse'"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ExplainError, match=message):
            attribute(model, x, **kwargs)
    with pytest.raises(ValueError, match="pixel attribution with no maps per layer"):
        compute_cams(model, x, method="saliency")
    with pytest.raises(ExplainError, match="attributions must have the images' shape"):
        completeness_gap(model, x, np.zeros((3, 16, 16)))


def test_smoothed_cams(model, x):
    plain = compute_cams(model, x, ["conv_a", "conv_b"], target="dog")
    zero = compute_cams(model, x, ["conv_a", "conv_b"], target="dog", smooth=SmoothOptions(3, 0.0))
    for layer in plain:
        np.testing.assert_allclose(zero[layer], plain[layer], rtol=1e-5, atol=1e-6)
    smooth = compute_cams(model, x, ["conv_b"], target="dog", smooth=SmoothOptions(16, 0.2, seed=1))["conv_b"]
    assert smooth.shape == (3, 16, 16) and not np.allclose(smooth, plain["conv_b"])
    # the mean of the raw maps of the same noisy copies, computed one copy at a time
    from cvd_explorer.explain.smooth import noisy_copies

    copies = noisy_copies(x, SmoothOptions(16, 0.2, seed=1))
    raw = compute_cams(model, copies, ["conv_b"], target="dog", normalize=False)["conv_b"]
    mean = np.maximum(raw.reshape(3, 16, *raw.shape[1:]).mean(axis=1), 0)
    np.testing.assert_allclose(smooth, mean / mean.max(axis=(1, 2), keepdims=True), rtol=1e-4, atol=1e-5)
    with pytest.raises(ExplainError, match="eigencam has no option .smooth.; its options: batch_size, jit_compile"):
        compute_cams(model, x, ["conv_b"], method="eigencam", smooth=SmoothOptions())
    with pytest.raises(ExplainError, match="samples must be an integer >= 1"):
        SmoothOptions(samples=0)


def _tensorflow_log():
    """Collect what TensorFlow's logger and stderr print (the retracing warning goes to the logger)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    return stream, handler


def test_randomization_check_runs_for_every_method_on_one_trace(monkeypatch):
    from cvd_explorer.explain import METHODS, _tf_grad

    traces: list[str] = []
    original = _tf_grad.trace

    def counting(fn, jit_compile=False):
        def step(*args):
            traces.append(fn.__qualname__)  # runs only while TensorFlow traces
            return fn(*args)

        return original(step, jit_compile)

    monkeypatch.setattr(_tf_grad, "trace", counting)
    m = tiny_model(seed=3)
    xs = images(4, seed=9)
    for method in METHODS:
        options = {"steps": 8} if method == "integrated-gradients" else None
        randomization_check(m, xs, "conv_b", method, seed=0, options=options)  # warm: the trained model's steps
        counts = []
        for max_steps in (1, None):
            traces.clear()
            steps = randomization_check(m, xs, "conv_b", method, seed=1, options=options, max_steps=max_steps)
            counts.append(len(traces))
        assert [s["randomized"] for s in steps] == ["none", "predictions", "conv_b", "conv_a"], method
        assert steps[0]["spearman_median"] == pytest.approx(1.0)
        assert all(np.isfinite(s["spearman_median"]) for s in steps)
        # one copy of the model whose steps are traced once for the whole cascade (Score-CAM's logits
        # step once more when its batch size changes), never once per randomised group
        assert counts[0] == counts[1] and 1 <= counts[1] <= 3, (method, counts)


def test_explaining_models_in_a_row_prints_no_retracing_warning():
    logger = logging.getLogger("tensorflow")
    stream, handler = _tensorflow_log()
    logger.addHandler(handler)
    err = io.StringIO()
    try:
        with redirect_stderr(err):
            xs = images(2, seed=1)
            for seed in range(7):  # a report explains several models and layer sets, each traced once
                m = tiny_model(seed=seed)
                compute_cams(m, xs, ["conv_a"] if seed % 2 else None)
                attribute(m, xs, "saliency")
            randomization_check(tiny_model(seed=8), xs, "conv_b", "gradcam", seed=0)
    finally:
        logger.removeHandler(handler)
    assert "retracing" not in stream.getvalue() + err.getvalue()
