"""Model builders: layer counts, naming, preprocessing inside the model, nested conv listing."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvd_explorer.depth import stage_of
from cvd_explorer.errors import ModelError
from cvd_explorer.models import block_outputs, build, compile_reference, conv_layers, find_layer


@pytest.mark.parametrize("arch, n_conv, n_blocks", [("resnet50", 53, 16), ("resnet101", 104, 33)])
def test_keras_resnets_have_the_reference_layer_counts(arch, n_conv, n_blocks):
    model = build(arch, input_size=64)
    convs = conv_layers(model)
    assert len(convs) == n_conv
    assert len(block_outputs(model)) == n_blocks
    assert convs[0] == "conv1_conv" and convs[-1] == "conv5_block3_3_conv"
    assert model.output_shape == (None, 1)
    assert model.get_layer("predictions").activation.__name__ == "sigmoid"


def test_resnet_mini_uses_resnet50_names_and_bottlenecks():
    model = build("resnet-mini", input_size=64)
    convs = conv_layers(model)
    assert len(convs) == 20
    assert {"conv2_block1_0_conv", "conv2_block1_1_conv", "conv2_block1_2_conv", "conv2_block1_3_conv"} <= set(convs)
    assert block_outputs(model) == [
        "conv2_block1_out", "conv3_block1_out", "conv4_block1_out", "conv4_block2_out", "conv5_block1_out",
    ]
    assert [stage_of(name) for name in convs][:2] == [1, 2]
    # the 3x3 conv of the bottleneck keeps the bottleneck width; the 1x1 expands by 4
    assert model.get_layer("conv3_block1_2_conv").filters * 4 == model.get_layer("conv3_block1_3_conv").filters


def test_models_take_0_255_and_rescale_inside():
    model = build("resnet-mini", input_size=32)
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)
    probe = keras.Model(model.input, model.get_layer("rescale").output)
    image = np.full((1, 32, 32, 3), 255.0, dtype=np.float32)
    np.testing.assert_allclose(probe(image).numpy(), 1.0, rtol=1e-6)


def test_conv_layers_sees_inside_nested_models():
    backbone = build("resnet-mini", input_size=32)
    wrapped = keras.Sequential(
        [keras.Input((32, 32, 3)), backbone, keras.layers.Dense(1, activation="sigmoid", name="head")]
    )
    functional_in = keras.Input((32, 32, 3))
    functional = keras.Model(functional_in, keras.layers.Dense(2, name="head2")(backbone(functional_in)))
    for model in (wrapped, functional):
        assert conv_layers(model) == conv_layers(backbone)
        assert block_outputs(model) == block_outputs(backbone)
        layer, chain = find_layer(model, "conv3_block1_2_conv")
        assert layer is backbone.get_layer("conv3_block1_2_conv")
        assert chain == [model, backbone]


def test_find_layer_names_the_missing_layer():
    with pytest.raises(ModelError, match="no layer named 'conv9'"):
        find_layer(build("resnet-mini", 32), "conv9")


def test_unknown_arch_and_tiny_input_are_refused():
    with pytest.raises(ModelError, match="resnet50, resnet101, resnet-mini"):
        build("vgg16")
    with pytest.raises(ModelError, match="too small"):
        build("resnet-mini", input_size=16)


def test_imagenet_weights_offline_give_a_clear_error(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.applications.resnet.file_utils.get_file", offline)
    with pytest.raises(ModelError, match="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        build("resnet50", 64, weights="imagenet")
    with pytest.raises(ModelError, match="no ImageNet weights"):
        build("resnet-mini", 64, weights="imagenet")


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras' note on the refused file
def test_weights_file_round_trip_and_missing_file(tmp_path):
    model = build("resnet-mini", 32)
    path = tmp_path / "mini.weights.h5"
    model.save_weights(path)
    again = build("resnet-mini", 32, weights=path)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ModelError, match="does not exist"):
        build("resnet-mini", 32, weights=tmp_path / "nope.weights.h5")
    with pytest.raises(ModelError, match="could not load weights"):
        build("resnet-mini", 48, weights=build_other_weights(tmp_path))


def build_other_weights(tmp_path):
    """Weights of a model with other shapes (resnet-mini at another head width) to be refused."""
    inputs = keras.Input((48, 48, 3))
    other = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "other.weights.h5"
    other.save_weights(path)
    return path


def test_compile_reference_is_the_study_setup():
    model = compile_reference(build("resnet-mini", 32))
    config = model.optimizer.get_config()
    assert isinstance(model.optimizer, keras.optimizers.SGD) and config["momentum"] == pytest.approx(0.9)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    assert model.loss == "binary_crossentropy"
