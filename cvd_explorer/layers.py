"""Custom layers the toolkit's models may contain, registered for Keras' safe-mode loading."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

# Keras' ImageNet ResNet weights expect "caffe" preprocessing: BGR order, per-channel mean removed.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="cvd_explorer")
class CaffePreprocess(keras.layers.Layer):  # type: ignore[misc]  # keras is untyped: Layer is Any
    """RGB 0-255 ``(N, H, W, 3)`` -> BGR with the ImageNet mean removed, as Keras' ResNet weights expect."""

    def call(self, inputs: Any) -> Any:
        bgr = ops.flip(inputs, axis=-1)
        mean = ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=bgr.dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape
