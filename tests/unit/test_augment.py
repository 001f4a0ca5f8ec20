"""The study's augmentation keeps Keras 2 semantics: parameter ranges and the warp itself."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from cvd_explorer.data.augment import (
    AugmentSpec,
    augment_image,
    sample_params,
    transform_matrix,
    transform_vector,
    warp,
)


def _draws(n: int = 2000):
    """Parameters drawn as the pipeline draws them: inside a parallel tf.data map (graph mode)."""
    seeds = tf.data.Dataset.range(n).map(lambda i: tf.stack([tf.constant(7, tf.int64), i]))
    ds = seeds.map(sample_params, num_parallel_calls=2, deterministic=True).batch(n)
    return {key: value.astype(np.float64) for key, value in next(ds.as_numpy_iterator()).items()}


def test_parameter_ranges_are_keras2_ones():
    draws = _draws()
    deg = 180 / math.pi
    theta, shear = draws["theta"] * deg, draws["shear"] * deg
    assert -40 <= theta.min() < -38 and 38 < theta.max() <= 40  # uniform +-40 degrees
    assert -0.2 <= shear.min() < -0.19 and 0.19 < shear.max() <= 0.2  # +-0.2 DEGREES, not 20%
    for key in ("zx", "zy"):
        assert 0.8 <= draws[key].min() < 0.81 and 1.19 < draws[key].max() <= 1.2
    # x and y zoom are drawn independently (Keras 3's RandomZoom links them)
    assert abs(np.corrcoef(draws["zx"], draws["zy"])[0, 1]) < 0.1
    assert 0.45 < draws["flip"].mean() < 0.55
    # uniform, not clustered: each quarter of the rotation range holds about a quarter
    counts, _ = np.histogram(theta, bins=4, range=(-40, 40))
    assert counts.min() > 0.2 * len(theta)


def test_graph_draws_equal_eager_draws():
    graph = _draws(50)
    for i in (0, 17, 49):
        eager = sample_params(tf.constant([7, i], tf.int64))
        assert all(float(eager[k]) == graph[k][i] for k in ("theta", "shear", "zx", "zy", "flip"))


def test_parameters_are_a_pure_function_of_the_seed():
    a = sample_params(tf.constant([3, 5], tf.int64))
    b = sample_params(tf.constant([3, 5], tf.int64))
    c = sample_params(tf.constant([3, 6], tf.int64))
    assert all(float(a[k]) == float(b[k]) for k in ("theta", "shear", "zx", "zy"))
    assert float(a["theta"]) != float(c["theta"])


def _identity_params(**changes):
    params = {"theta": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0, "flip": False}
    params.update(changes)
    return {k: tf.constant(v) for k, v in params.items()}


def _warp(image, params):
    h, w = image.shape[:2]
    matrix = transform_matrix(params, h, w)
    flat = tf.reshape(matrix, [9])[:8]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.constant(image)[None], transforms=flat[None], output_shape=[h, w],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST",
    )[0].numpy()


def test_identity_flip_and_zoom_out_behave_like_keras2():
    image = np.arange(8 * 10 * 3, dtype=np.float32).reshape(8, 10, 3)
    np.testing.assert_allclose(_warp(image, _identity_params()), image, atol=1e-4)
    np.testing.assert_allclose(_warp(image, _identity_params(flip=True)), image[:, ::-1], atol=1e-4)
    # zx = 2 reads the input at twice the distance from the centre along columns: a zoom out,
    # with the edges filled by the nearest pixel ("nearest" fill mode)
    zoomed = _warp(image, _identity_params(zx=2.0))
    assert np.allclose(zoomed[:, 0], image[:, 0]) and np.allclose(zoomed[:, -1], image[:, -1])
    np.testing.assert_allclose(zoomed, _warp(image, _identity_params(zx=2.0)))
    assert not np.allclose(zoomed, image)


def test_rotation_by_90_degrees_turns_a_square_image():
    image = np.zeros((9, 9, 3), np.float32)
    image[0, 4] = 1.0  # top-centre pixel
    rotated = _warp(image, _identity_params(theta=math.pi / 2))
    # a quarter turn moves the top-centre pixel to the middle of the left or right edge
    peak = np.unravel_index(np.argmax(rotated[..., 0]), rotated.shape[:2])
    assert peak in {(4, 0), (4, 8)}


def test_augment_image_keeps_shape_values_and_fills_edges():
    rng = np.random.default_rng(0)
    image = tf.constant(rng.uniform(0, 255, (32, 32, 3)).astype(np.float32))
    out = augment_image(image, tf.constant([1, 2], tf.int64)).numpy()
    assert out.shape == (32, 32, 3)
    assert out.min() >= 0 and out.max() <= 255  # bilinear + nearest fill never leaves the range
    assert not np.isnan(out).any()
    off = augment_image(image, tf.constant([1, 2], tf.int64), AugmentSpec(0.0, 0.0, (1.0, 1.0), False)).numpy()
    np.testing.assert_allclose(off, image.numpy(), atol=1e-3)


def test_a_batch_warp_equals_each_images_own_warp():
    """The training step warps a whole batch in one op: the same pixels as the per-image warp."""
    rng = np.random.default_rng(1)
    images = tf.constant(rng.uniform(0, 255, (5, 24, 24, 3)).astype(np.float32))
    seeds = [tf.constant([9, i], tf.int64) for i in range(5)]
    transforms = tf.stack([transform_vector(seed, 24, 24) for seed in seeds])
    batch = warp(images, transforms).numpy()
    assert batch.shape == (5, 24, 24, 3)
    for image, seed, got in zip(images, seeds, batch, strict=True):
        np.testing.assert_array_equal(got, augment_image(image, seed).numpy())  # bound: bit for bit
    assert not np.array_equal(batch[0], batch[1])  # each image its own transform
