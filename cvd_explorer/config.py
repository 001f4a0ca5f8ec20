"""Training configuration: the reference study's setup as a frozen, validated dataclass.

Defaults follow DESIGN.md's reading of the study: ResNet50 at 224x224x3 from scratch, SGD
(lr 0.001, momentum 0.9), binary cross-entropy, batch 20, 90 train steps and 20 validation steps
per epoch, 550 epochs, the study's augmentation, seed 0. Importing this module does not import
TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any

from cvd_explorer.errors import ConfigError

# The architectures cvd_explorer.models.build knows; named here, where a config is validated,
# so that reading a config does not import Keras.
ARCHITECTURES = ("resnet50", "resnet101", "resnet-mini")
OPTIMIZERS = ("sgd",)
# "constant": lr throughout (the study's); "warmup-cosine": linear warm-up from 0 to lr over the
# first epoch, then cosine decay to 0 at the last step (cvd_explorer.models.learning_rate).
LR_SCHEDULES = ("constant", "warmup-cosine")
MIN_IMAGE_SIZE = 32


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes.

    Attributes:
        arch: "resnet50", "resnet101" or "resnet-mini".
        image_size: side S of the square input (S, S, 3), at least 32.
        weights: None (from scratch), "imagenet", or a path to a weights file.
        optimizer: "sgd" (the study's; the only one offered).
        lr: learning rate, > 0.
        momentum: SGD momentum in [0, 1).
        batch_size: images per batch per replica (global batch = batch_size x replicas).
        steps_per_epoch: training batches per epoch.
        val_steps: validation batches per epoch, moving on through the validation split from
            epoch to epoch, or "all" for the whole split every epoch.
        epochs: number of epochs.
        augment: the study's augmentation on training images.
        seed: seeds the model initialisation, the split, shuffling and augmentation.
        mixed_precision: "mixed_float16" compute, float32 head.
        xla: compile training steps with XLA.
        cache_images: decode the training and validation images once into memory.
        lr_schedule: "constant" (``lr`` throughout, the study's) or "warmup-cosine" (linear
            warm-up to ``lr`` over the first epoch, cosine decay to 0 by the last step); a
            function of the optimizer's step count, so a resumed run continues it exactly.
        label_smoothing: share s in [0, 1) of each label spread evenly over the K classes (the
            target becomes ``(1 - s) * one_hot + s / K``); 0, the study's, trains on hard labels.
    """

    arch: str = "resnet50"
    image_size: int = 224
    weights: str | None = None
    optimizer: str = "sgd"
    lr: float = 0.001
    momentum: float = 0.9
    batch_size: int = 20
    steps_per_epoch: int = 90
    val_steps: int | str = 20
    epochs: int = 550
    augment: bool = True
    seed: int = 0
    mixed_precision: bool = False
    xla: bool = False
    cache_images: bool = False
    label_smoothing: float = 0.0
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied, validated like the constructor."""
        unknown = sorted(set(changes) - set(field_names()))
        if unknown:
            raise ConfigError(f"unknown TrainConfig field(s): {', '.join(unknown)}; known: {', '.join(field_names())}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict` (keys in field order)."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys and impossible values raise ConfigError naming the field."""
        if not isinstance(data, dict):
            raise ConfigError(f"a training config must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(field_names()))
        if unknown:
            known = ", ".join(field_names())
            raise ConfigError(f"unknown training config key(s): {', '.join(unknown)}; known: {known}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parse :meth:`to_json` output (or any JSON object of known fields)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"training config is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @property
    def val_steps_label(self) -> str:
        """``val_steps`` as text ("20" or "all")."""
        return str(self.val_steps)


def field_names() -> tuple[str, ...]:
    """Names of the TrainConfig fields in declaration order."""
    return tuple(f.name for f in fields(TrainConfig))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _positive_int(config: TrainConfig, name: str) -> None:
    value = getattr(config, name)
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}", field=name)


def _validate(c: TrainConfig) -> None:
    if c.arch not in ARCHITECTURES:
        raise ConfigError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {c.arch!r}", field="arch")
    if not _is_int(c.image_size) or c.image_size < MIN_IMAGE_SIZE:
        raise ConfigError(
            f"image_size must be an integer of at least {MIN_IMAGE_SIZE}, got {c.image_size!r}", field="image_size"
        )
    if c.weights is not None and (not isinstance(c.weights, str) or not c.weights):
        raise ConfigError(f"weights must be None, 'imagenet' or a file path, got {c.weights!r}", field="weights")
    if c.weights is not None and c.weights.lower() == "none":
        object.__setattr__(c, "weights", None)
    if c.weights == "imagenet" and c.arch == "resnet-mini":
        raise ConfigError(
            "weights 'imagenet' is not available for arch resnet-mini; use weights None", field="weights"
        )
    if c.optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {c.optimizer!r}", field="optimizer")
    _validate_rates(c)
    for name in ("batch_size", "steps_per_epoch", "epochs"):
        _positive_int(c, name)
    if c.val_steps != "all" and not (isinstance(c.val_steps, int) and _is_int(c.val_steps) and c.val_steps >= 1):
        raise ConfigError(f"val_steps must be a positive integer or 'all', got {c.val_steps!r}", field="val_steps")
    if not _is_int(c.seed) or c.seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {c.seed!r}", field="seed")
    for name in ("augment", "mixed_precision", "xla", "cache_images"):
        if not isinstance(getattr(c, name), bool):
            raise ConfigError(f"{name} must be true or false, got {getattr(c, name)!r}", field=name)
    if c.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {c.lr_schedule!r}", field="lr_schedule"
        )


def _validate_rates(c: TrainConfig) -> None:
    """lr > 0, momentum and label_smoothing in [0, 1); stored as floats (JSON has one number type,
    so round trips compare equal)."""
    if not _is_number(c.lr) or not 0 < c.lr < float("inf"):
        raise ConfigError(f"lr must be a positive number, got {c.lr!r}", field="lr")
    if not _is_number(c.momentum) or not 0 <= c.momentum < 1:
        raise ConfigError(f"momentum must be a number in [0, 1), got {c.momentum!r}", field="momentum")
    if not _is_number(c.label_smoothing) or not 0 <= c.label_smoothing < 1:
        raise ConfigError(
            f"label_smoothing must be a number in [0, 1), got {c.label_smoothing!r}", field="label_smoothing"
        )
    for name in ("lr", "momentum", "label_smoothing"):
        object.__setattr__(c, name, float(getattr(c, name)))
