"""The reference study's augmentation with Keras 2 ``ImageDataGenerator`` semantics, on tf.data.

The study used ``rotation_range=40, shear_range=0.2, zoom_range=0.2, horizontal_flip=True,
fill_mode="nearest"``. In Keras 2 those meant: rotation uniform in [-40, 40] degrees; shear angle
uniform in [-0.2, 0.2] DEGREES; x and y zoom drawn independently, uniform in [0.8, 1.2] (a factor
above 1 shows more of the scene, i.e. zooms out); a horizontal flip with probability 1/2; pixels
from outside the image repeat the nearest edge pixel, bilinear interpolation inside. Keras 3's
``RandomShear(0.2)``/``RandomZoom(0.2)`` mean a 20% shear and a linked zoom, so they are not used.

Randomness is stateless: each image's parameters are a function of ``(seed, image_index)``, so an
epoch's data can be reproduced exactly when a run resumes. The parameters (:func:`transform_vector`,
cheap) and the warp (:func:`warp`, the costly bilinear resampling) are separate, so the input
pipeline can stream the parameters and the training step warp the whole batch on its device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentSpec:
    """Ranges of the random transform (Keras 2 ``ImageDataGenerator`` arguments)."""

    rotation_range: float = 40.0  # degrees, uniform in [-r, r]
    shear_range: float = 0.2  # degrees (Keras 2 semantics), uniform in [-s, s]
    zoom_range: tuple[float, float] = (0.8, 1.2)  # x and y drawn independently
    horizontal_flip: bool = True


STUDY_AUGMENTATION = AugmentSpec()


def sample_params(seed: tf.Tensor, spec: AugmentSpec = STUDY_AUGMENTATION) -> dict[str, tf.Tensor]:
    """Draw one image's transform parameters.

    Args:
        seed: int32/int64 tensor of shape (2,), a stateless seed.

    Returns:
        Scalars ``theta`` and ``shear`` (radians), ``zx``, ``zy`` (zoom factors) and ``flip``
        (bool).
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=5)
    uniform = tf.random.stateless_uniform
    deg = math.pi / 180.0
    theta = uniform([], seeds[0], -spec.rotation_range, spec.rotation_range) * deg
    shear = uniform([], seeds[1], -spec.shear_range, spec.shear_range) * deg
    zx = uniform([], seeds[2], spec.zoom_range[0], spec.zoom_range[1])
    zy = uniform([], seeds[3], spec.zoom_range[0], spec.zoom_range[1])
    flip = tf.logical_and(spec.horizontal_flip, uniform([], seeds[4], 0.0, 1.0) < 0.5)
    return {"theta": theta, "shear": shear, "zx": zx, "zy": zy, "flip": flip}


def transform_matrix(params: dict[str, tf.Tensor], height: int, width: int) -> tf.Tensor:
    """3x3 matrix mapping OUTPUT pixel (x, y, 1) to INPUT pixel, as Keras 2 composed it.

    Keras 2 ``apply_affine_transform`` multiplies rotation @ shear @ zoom and centres the result
    on the image; the flip is applied afterwards.

    Returns:
        float32 tensor of shape (3, 3) in (x=column, y=row) coordinates.
    """
    theta, shear, zx, zy = params["theta"], params["shear"], params["zx"], params["zy"]
    c, s = tf.cos(theta), tf.sin(theta)
    one, zero = tf.ones_like(c), tf.zeros_like(c)
    # Keras 2 (keras-preprocessing >= 1.1) swaps the image axes before warping, so its matrices
    # act on (x=column, y=row): zx scales columns, zy rows.
    rotation = tf.stack([[c, -s, zero], [s, c, zero], [zero, zero, one]])
    shear_m = tf.stack([[one, -tf.sin(shear), zero], [zero, tf.cos(shear), zero], [zero, zero, one]])
    zoom = tf.stack([[zx, zero, zero], [zero, zy, zero], [zero, zero, one]])
    # about the image centre (pixel centres at integer coordinates; Keras 2 used n/2 + 0.5)
    ox, oy = (width - 1) / 2.0, (height - 1) / 2.0
    to_center = tf.constant([[1.0, 0.0, ox], [0.0, 1.0, oy], [0.0, 0.0, 1.0]])
    back = tf.constant([[1.0, 0.0, -ox], [0.0, 1.0, -oy], [0.0, 0.0, 1.0]])
    m_xy = to_center @ rotation @ shear_m @ zoom @ back
    # the flip happens after the affine warp: output column x reads warped column (W-1-x)
    flip = tf.where(
        params["flip"],
        tf.constant([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        tf.eye(3),
    )
    return m_xy @ flip


def transform_vector(seed: tf.Tensor, height: int, width: int, spec: AugmentSpec = STUDY_AUGMENTATION) -> tf.Tensor:
    """One image's random transform as the 8 numbers :func:`warp` takes.

    Args:
        seed: stateless seed, shape (2,).
        height, width: the image size.

    Returns:
        float32 (8,): the first 8 entries of the normalised 3x3 output-to-input matrix.
    """
    matrix = transform_matrix(sample_params(seed, spec), height, width)
    return tf.reshape(matrix, [9])[:8] / matrix[2, 2]


def warp(images: tf.Tensor, transforms: tf.Tensor) -> tf.Tensor:
    """Warp a batch, each image by its own transform, in one op (no Python per image).

    Args:
        images: float32 (B, H, W, C), any value range.
        transforms: float32 (B, 8), rows of :func:`transform_vector`.

    Returns:
        float32 (B, H, W, C), bilinear sampling, edges filled with the nearest pixel. Each image
        equals its own single-image warp bit for bit (the kernel works image by image).
    """
    size = images.shape[1:3]
    output_shape = tf.constant(size.as_list(), tf.int32) if size.is_fully_defined() else tf.shape(images)[1:3]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=output_shape,
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )


def augment_image(image: tf.Tensor, seed: tf.Tensor, spec: AugmentSpec = STUDY_AUGMENTATION) -> tf.Tensor:
    """Randomly transform one image.

    Args:
        image: float32 (H, W, 3), any value range.
        seed: stateless seed, shape (2,).

    Returns:
        float32 (H, W, 3), edges filled with the nearest pixel, bilinear sampling.
    """
    vector = transform_vector(seed, image.shape[0], image.shape[1], spec)
    return warp(image[tf.newaxis], vector[tf.newaxis])[0]
