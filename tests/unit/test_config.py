"""TrainConfig: the study's defaults, JSON round trip, refusals naming the field, CLI flags."""

from __future__ import annotations

import argparse
import json

import pytest

from cvd_explorer.config import ARCHITECTURES, TrainConfig, field_names
from cvd_explorer.errors import ConfigError, RunError


def test_defaults_are_the_reference_study():
    c = TrainConfig()
    assert (c.arch, c.image_size, c.weights) == ("resnet50", 224, None)
    assert (c.optimizer, c.lr, c.momentum) == ("sgd", 0.001, 0.9)
    assert (c.batch_size, c.steps_per_epoch, c.val_steps, c.epochs) == (20, 90, 20, 550)
    assert (c.augment, c.seed, c.mixed_precision, c.xla, c.cache_images) == (True, 0, False, False, False)


def test_architectures_match_the_model_builders():
    from cvd_explorer.models import ARCHITECTURES as BUILT

    assert ARCHITECTURES == BUILT


def test_frozen():
    with pytest.raises(AttributeError):
        TrainConfig().epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"arch": "resnet-mini", "image_size": 32, "val_steps": "all", "weights": None},
        {"arch": "resnet101", "weights": "imagenet", "lr": 0.01, "momentum": 0.0, "mixed_precision": True},
        {"weights": "/some/weights.weights.h5", "xla": True, "cache_images": True, "augment": False, "seed": 7},
    ],
)
def test_json_round_trip(changes):
    config = TrainConfig().replace(**changes)
    text = config.to_json()
    assert json.loads(text) == config.to_dict()
    assert TrainConfig.from_json(text) == config
    assert list(json.loads(text)) == list(field_names())


def test_lr_given_as_int_round_trips_equal():
    config = TrainConfig(lr=1)
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert TrainConfig.from_json(config.to_json()) == config


def test_weights_none_string_means_from_scratch():
    assert TrainConfig(weights="none").weights is None
    assert TrainConfig(weights="None").weights is None


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("batch_size", 0, "batch_size must be a positive integer, got 0"),
        ("batch_size", 2.5, "batch_size must be a positive integer"),
        ("batch_size", True, "batch_size must be a positive integer"),
        ("steps_per_epoch", -1, "steps_per_epoch must be a positive integer"),
        ("epochs", 0, "epochs must be a positive integer"),
        ("val_steps", 0, "val_steps must be a positive integer or 'all'"),
        ("val_steps", "some", "val_steps must be a positive integer or 'all'"),
        ("arch", "vgg16", "arch must be one of resnet50, resnet101, resnet-mini"),
        ("image_size", 16, "image_size must be an integer of at least 32"),
        ("lr", 0.0, "lr must be a positive number"),
        ("lr", float("nan"), "lr must be a positive number"),
        ("lr", "0.1", "lr must be a positive number"),
        ("momentum", 1.0, "momentum must be a number in [0, 1)"),
        ("momentum", -0.1, "momentum must be a number in [0, 1)"),
        ("seed", -1, "seed must be a non-negative integer"),
        ("optimizer", "adam", "optimizer must be one of sgd"),
        ("augment", "yes", "augment must be true or false"),
        ("weights", "", "weights must be None, 'imagenet' or a file path"),
    ],
)
def test_impossible_values_name_the_field(field, value, message):
    with pytest.raises(RunError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**{field: value})
    with pytest.raises(ConfigError, match=field) as raised:
        TrainConfig().replace(**{field: value})
    assert raised.value.field == field
    with pytest.raises(RunError, match=field):
        TrainConfig.from_dict({**TrainConfig().to_dict(), field: value})


def test_imagenet_weights_refused_for_the_mini_resnet():
    with pytest.raises(ConfigError, match="imagenet.*resnet-mini") as raised:
        TrainConfig(arch="resnet-mini", weights="imagenet")
    assert raised.value.field == "weights"


def test_unknown_keys_refused():
    with pytest.raises(ConfigError, match="unknown training config key.*batchsize") as raised:
        TrainConfig.from_dict({"batchsize": 3})
    assert raised.value.field is None
    with pytest.raises(RunError, match="unknown TrainConfig field.*learning_rate"):
        TrainConfig().replace(learning_rate=0.1)
    with pytest.raises(RunError, match="not valid JSON"):
        TrainConfig.from_json("{epochs: 3}")
    with pytest.raises(RunError, match="JSON object"):
        TrainConfig.from_json("[1, 2]")


def test_partial_dict_takes_defaults():
    assert TrainConfig.from_dict({"epochs": 3}) == TrainConfig(epochs=3)


def test_cli_flags_build_the_config():
    from cvd_explorer.cli.train import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--out", "R", "--arch", "resnet-mini", "--epochs", "3", "--val-steps", "all", "--weights", "none",
         "--lr", "0.01", "--mixed-precision", "--no-augment", "--cache-images"]
    )
    config = config_from_args(args)
    assert config == TrainConfig(
        arch="resnet-mini", epochs=3, val_steps="all", lr=0.01, mixed_precision=True, augment=False,
        cache_images=True,
    )
    # absent flags keep the base config (the run's own config on --resume)
    base = TrainConfig(arch="resnet101", epochs=9, seed=4)
    assert config_from_args(parser.parse_args(["--out", "R", "--epochs", "12"]), base) == base.replace(epochs=12)
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "R", "--val-steps", "0"])


def test_lr_schedule_defaults_to_constant_and_is_validated():
    assert TrainConfig().lr_schedule == "constant"
    # config.json of runs recorded before the field existed
    old = {k: v for k, v in TrainConfig(epochs=3).to_dict().items() if k != "lr_schedule"}
    assert TrainConfig.from_dict(old) == TrainConfig(epochs=3)
    scheduled = TrainConfig(lr_schedule="warmup-cosine")
    assert TrainConfig.from_json(scheduled.to_json()) == scheduled
    assert field_names()[-1] == "lr_schedule"
    with pytest.raises(RunError, match="lr_schedule must be one of constant, warmup-cosine, got 'cosine'"):
        TrainConfig(lr_schedule="cosine")


def test_lr_schedule_flag_round_trips_through_the_train_command(tmp_path):
    from cvd_explorer.cli.train import add_arguments, config_from_args
    from cvd_explorer.runs.launch import train_command

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = TrainConfig(arch="resnet-mini", lr=0.05, lr_schedule="warmup-cosine")
    args = parser.parse_args(train_command(config, tmp_path / "data", tmp_path / "run")[4:])
    assert config_from_args(args) == config
    assert config_from_args(parser.parse_args(["--out", "R"])).lr_schedule == "constant"
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "R", "--lr-schedule", "linear"])
