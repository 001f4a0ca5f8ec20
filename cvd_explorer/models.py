"""Model builders for the reference study and layer listings that see through nested models.

Every built model takes RGB values 0-255 ``(N, S, S, 3)`` and holds its own preprocessing layer,
so a saved model says how to feed it. The head is one sigmoid unit, P(classes[1]), for two classes
and K softmax units for K > 2 (:func:`cvd_explorer.classes.head_units`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from cvd_explorer.config import ARCHITECTURES
from cvd_explorer.errors import ModelError
from cvd_explorer.layers import CaffePreprocess

_BLOCK_OUT = re.compile(r"^conv\d+_block\d+_out$")
_APPLICATIONS = {"resnet50": "ResNet50", "resnet101": "ResNet101"}
# resnet-mini: (stage, bottleneck filters, blocks, first stride); output width is 4x filters.
# Stages 4 and 5 keep stage 3's resolution (an "output stride" of 8 instead of 32, as in
# segmentation ResNets), so at the demo's 64 px the last block is 8x8 rather than 2x2 and its CAM
# can point at the animal (pointing game on synthetic data: 0.97 at 8x8, 0.74 at 4x4, 0.28 at 2x2).
_MINI_STAGES = ((2, 8, 1, 1), (3, 16, 1, 2), (4, 32, 2, 1), (5, 64, 1, 1))


def build(arch: str, input_size: int = 224, weights: str | Path | None = None, classes: int = 2) -> keras.Model:
    """Build an uncompiled classifier of ``classes`` classes.

    Args:
        arch: ``"resnet50"``, ``"resnet101"`` (``keras.applications``) or ``"resnet-mini"`` (a
            small ResNet with ResNet50's bottleneck blocks and layer names, for CPU demos).
        input_size: side S of the square input ``(S, S, 3)``; at least 32.
        weights: None (random init), ``"imagenet"`` (backbone weights from Keras' cache; needs
            the internet once or a copied file), a Keras ImageNet "notop" ``.h5`` backbone file,
            or a ``.weights.h5`` / ``.keras`` file with weights of this very model.
        classes: K, the number of classes (at least 2).

    Returns:
        Model mapping float RGB 0-255 ``(N, S, S, 3)`` to float32 P(classes[1]) ``(N, 1)`` for two
        classes, or the softmax probabilities ``(N, K)`` for K > 2.
    """
    from cvd_explorer.classes import head_units

    if arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if int(input_size) < 32:
        raise ModelError(f"input_size {input_size} is too small; use 32 px or more")
    whole_model_weights, backbone_weights = _split_weights(arch, weights)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    if backbone_weights is not None:
        x = CaffePreprocess(name="imagenet_preprocess")(inputs)
    else:
        x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    features = _mini_backbone(x) if arch == "resnet-mini" else _application_backbone(arch, x, backbone_weights)
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    try:
        units = head_units(int(classes))
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    activation = "sigmoid" if units == 1 else "softmax"
    outputs = keras.layers.Dense(units, activation=activation, dtype="float32", name="predictions")(pooled)
    model = keras.Model(inputs, outputs, name=arch.replace("-", "_"))
    if whole_model_weights is not None:
        try:
            model.load_weights(whole_model_weights)
        except Exception as exc:  # Keras raises several types for mismatched files
            raise ModelError(
                f"could not load weights from {whole_model_weights} into {arch} at {input_size} px: {exc}"
            ) from exc
    return model


def compile_reference(
    model: keras.Model,
    lr: float = 0.001,
    momentum: float = 0.9,
    lr_schedule: str = "constant",
    total_steps: int = 0,
    warmup_steps: int = 0,
    label_smoothing: float = 0.0,
) -> keras.Model:
    """Compile as the reference study did: SGD(lr, momentum), binary cross-entropy, accuracy.

    A K-unit softmax head (K > 2) gets the categorical cross-entropy of class-index labels
    (sparse), with ``label_smoothing`` when it is above 0, and sparse categorical accuracy under
    the name "accuracy". ``lr_schedule``, ``total_steps`` and ``warmup_steps`` go to
    :func:`learning_rate` (the default "constant" is the study's fixed rate).
    """
    from cvd_explorer.layers import SmoothedSparseCrossentropy

    units = int(model.outputs[0].shape[-1])
    loss: Any
    metric: Any
    if units == 1:
        loss = keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing) if label_smoothing else \
            "binary_crossentropy"
        metric = "accuracy"
    else:
        loss = SmoothedSparseCrossentropy(label_smoothing) if label_smoothing else \
            keras.losses.SparseCategoricalCrossentropy()
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(
        optimizer=keras.optimizers.SGD(
            learning_rate=learning_rate(lr, lr_schedule, total_steps, warmup_steps), momentum=momentum
        ),
        loss=loss,
        metrics=[metric],
    )
    return model


def learning_rate(lr: float, schedule: str = "constant", total_steps: int = 0, warmup_steps: int = 0) -> Any:
    """The optimizer's learning rate: ``lr`` itself, or a schedule of the optimizer's step count.

    Args:
        lr: the rate ("constant") or the peak rate reached after warm-up ("warmup-cosine").
        schedule: "constant" or "warmup-cosine" (:data:`cvd_explorer.config.LR_SCHEDULES`).
        total_steps: training steps of the whole run (epochs x steps per epoch); needed by
            "warmup-cosine".
        warmup_steps: steps of linear warm-up from 0 to ``lr`` (at most half of ``total_steps``);
            the cosine decay to 0 takes the remaining steps.

    Returns:
        ``lr`` as a float, or a ``keras.optimizers.schedules.CosineDecay``. The schedule is saved
        with the optimizer and evaluated at its iteration count, so a resumed run continues it.
    """
    if schedule == "constant":
        return float(lr)
    if schedule != "warmup-cosine":
        raise ModelError(f"unknown learning-rate schedule {schedule!r}; use 'constant' or 'warmup-cosine'")
    if total_steps < 1:
        raise ModelError(f"the warmup-cosine schedule needs total_steps >= 1, got {total_steps}")
    warmup = max(0, min(warmup_steps, total_steps // 2))
    return keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup, alpha=0.0, warmup_target=float(lr), warmup_steps=warmup
    )


def conv_layers(model: keras.Model) -> list[str]:
    """Names of every Conv2D layer in depth order, looking inside nested models.

    Nested layers are listed by their own names (``conv2_block1_1_conv``), which
    :func:`find_layer` resolves.
    """
    return [layer.name for layer in iter_layers(model) if isinstance(layer, keras.layers.Conv2D)]


def block_outputs(model: keras.Model) -> list[str]:
    """Names of the residual block outputs (``convN_blockM_out``) in depth order, nested included."""
    return [layer.name for layer in iter_layers(model) if _BLOCK_OUT.match(layer.name)]


def iter_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Yield every leaf layer in depth order, descending into nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer)
        else:
            yield layer


def find_layer(model: keras.Model, name: str) -> tuple[keras.layers.Layer, list[keras.Model]]:
    """Find a layer by name anywhere in ``model``.

    Returns:
        The layer and the chain of models from ``model`` down to the one that owns it.
    """
    for layer in model.layers:
        if layer.name == name:
            return layer, [model]
        if isinstance(layer, keras.Model):
            try:
                found, chain = find_layer(layer, name)
            except ModelError:
                continue
            return found, [model, *chain]
    raise ModelError(f"model {model.name!r} has no layer named {name!r}")


def _split_weights(arch: str, weights: str | Path | None) -> tuple[Path | None, str | Path | None]:
    """Sort ``weights`` into (whole-model weights file, backbone weights for keras.applications)."""
    if weights is None or str(weights).lower() == "none":
        return None, None
    if str(weights) == "imagenet":
        if arch == "resnet-mini":
            raise ModelError("resnet-mini has no ImageNet weights; use weights=None or a weights file")
        return None, "imagenet"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist; pass None, 'imagenet' or an existing file")
    if path.name.endswith((".weights.h5", ".keras")):
        return path, None
    if path.suffix == ".h5" and arch != "resnet-mini":
        return None, str(path)
    raise ModelError(
        f"weights file {path} is not a .weights.h5 or .keras file of this model nor a Keras "
        "ImageNet 'notop' .h5 backbone file"
    )


def _application_backbone(arch: str, x: Any, weights: str | Path | None) -> Any:
    constructor = getattr(keras.applications, _APPLICATIONS[arch])
    try:
        backbone = constructor(include_top=False, weights=weights, input_tensor=x)
    except Exception as exc:
        if weights == "imagenet":
            raise ModelError(
                f"ImageNet weights for {arch} could not be loaded ({exc.__class__.__name__}: {exc}). "
                "They are downloaded on first use; offline, copy Keras' "
                f"'{arch}_weights_tf_dim_ordering_tf_kernels_notop.h5' into ~/.keras/models/ "
                "or pass its path as weights"
            ) from exc
        raise ModelError(f"could not build {arch}: {exc}") from exc
    return backbone.output


def _mini_backbone(x: Any) -> Any:
    bn_axis = -1
    x = keras.layers.ZeroPadding2D(padding=2, name="conv1_pad")(x)
    x = keras.layers.Conv2D(16, 5, strides=2, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(padding=1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, filters, blocks, stride in _MINI_STAGES:
        for block in range(1, blocks + 1):
            x = _bottleneck(x, filters, stride if block == 1 else 1, block == 1, f"conv{stage}_block{block}")
    return x


def _bottleneck(x: Any, filters: int, stride: int, project: bool, name: str) -> Any:
    """ResNet50's bottleneck block (Keras' ``residual_block_v1``) with its layer names."""
    if project:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_0_bn")(shortcut)
    else:
        shortcut = x
    x = keras.layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_1_bn")(x)
    x = keras.layers.Activation("relu", name=name + "_1_relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", name=name + "_2_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_2_bn")(x)
    x = keras.layers.Activation("relu", name=name + "_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_3_bn")(x)
    x = keras.layers.Add(name=name + "_add")([shortcut, x])
    return keras.layers.Activation("relu", name=name + "_out")(x)
