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


@keras.saving.register_keras_serializable(package="cvd_explorer")
class SmoothedSparseCrossentropy(keras.losses.Loss):  # type: ignore[misc]  # keras is untyped: Loss is Any
    """Categorical cross-entropy of class indices with label smoothing, for a K-unit softmax head.

    ``y_true`` holds class indices ``(B,)`` (float or int, as the input pipeline gives them);
    ``y_pred`` the probabilities ``(B, K)``. The target is ``(1 - s) * one_hot + s / K``, as Keras'
    ``CategoricalCrossentropy(label_smoothing=s)`` on one-hot labels, without one-hot labels.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "smoothed_sparse_crossentropy", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        k = ops.shape(y_pred)[-1]
        indices = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(indices, k, dtype=y_pred.dtype)
        target = one_hot * (1.0 - self.label_smoothing) + self.label_smoothing / ops.cast(k, y_pred.dtype)
        return keras.losses.categorical_crossentropy(target, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
