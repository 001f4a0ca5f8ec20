"""What ``config.json`` records about an imported model, and the config view consumers read.

A run made by ``cvd-explorer import`` has no training: ``config.json`` holds an ``imported`` object
(:class:`ImportedInfo`) and a ``config`` with the few fields consumers of ``Run.config`` read
(``arch`` "imported", ``image_size``, ``batch_size``, ``epochs`` 0), read back as an
:class:`ImportedConfig`. No TensorFlow or Keras import here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import ConfigError, RunError

IMPORTED_KEY = "imported"
IMPORTED_ARCH = "imported"
NO_HISTORY = "imported model, no training history"
HEADS = ("probabilities", "logits")
PREPROCESSING = ("none", "scale", "caffe", "torch", "tf")
MIN_SIZE = 8


@dataclass(frozen=True)
class ImportedInfo:
    """How an imported model is fed and read (``config.json``'s ``imported`` object).

    Attributes:
        source: the model file it was imported from (absolute path, as given then).
        head: ``"probabilities"`` (sigmoid or softmax output) or ``"logits"`` (a linear output,
            squashed by the wrapper :func:`cvd_explorer.runs.imported_model.wrap` builds).
        preprocess: one of :data:`PREPROCESSING`, put in front of the model (RGB 0-255 in).
        input_size: side S of the square input ``(S, S, 3)``.
        output: name of the output layer used (a multi-output model), or None for the only one.
    """

    source: str
    head: str
    preprocess: str
    input_size: int
    output: str | None = None

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise RunError(f"imported head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.preprocess not in PREPROCESSING:
            raise RunError(f"imported preprocess must be one of {', '.join(PREPROCESSING)}, got {self.preprocess!r}")
        if isinstance(self.input_size, bool) or not isinstance(self.input_size, int) or self.input_size < MIN_SIZE:
            raise RunError(f"imported input_size must be an integer of at least {MIN_SIZE}, got {self.input_size!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class ImportedConfig(TrainConfig):
    """``Run.config`` of an imported run: a :class:`TrainConfig` whose ``arch`` is "imported" and
    ``epochs`` 0 (nothing was trained); only ``image_size`` and ``batch_size`` mean something."""

    arch: str = IMPORTED_ARCH
    epochs: int = 0
    augment: bool = False

    def __post_init__(self) -> None:
        if self.arch != IMPORTED_ARCH:
            raise ConfigError(f"an imported run's arch is {IMPORTED_ARCH!r}, got {self.arch!r}", field="arch")
        for name, least in (("image_size", MIN_SIZE), ("batch_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"{name} must be an integer of at least {least}, got {value!r}", field=name)


def is_imported(meta: dict[str, Any]) -> bool:
    """Whether a ``config.json`` dict is an imported run's."""
    return isinstance(meta.get(IMPORTED_KEY), dict)


def imported_info(meta: dict[str, Any], out: Path) -> ImportedInfo:
    """The :class:`ImportedInfo` of an imported run's ``config.json`` (RunError naming the file)."""
    data = meta.get(IMPORTED_KEY)
    try:
        return ImportedInfo(**data) if isinstance(data, dict) else ImportedInfo(**{})
    except (TypeError, RunError) as exc:
        raise RunError(f"{out / 'config.json'}: its {IMPORTED_KEY!r} record is unusable ({exc})") from None


def imported_config(meta: dict[str, Any], out: Path) -> ImportedConfig:
    """The :class:`ImportedConfig` of an imported run's ``config.json``."""
    recorded = meta.get("config")
    data: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    try:
        return ImportedConfig(**{k: v for k, v in data.items() if k in ("arch", "image_size", "batch_size", "epochs")})
    except (TypeError, ConfigError) as exc:
        raise RunError(f"{out / 'config.json'}: {exc}") from None


def no_history_note(run: Any) -> str | None:
    """What a panel shows instead of training curves for an imported run (None: a trained run)."""
    return f"{run.name}: {NO_HISTORY}" if getattr(run, "imported", False) else None


def is_imported_folder(path: Path | None) -> bool:
    """Whether the folder holds an imported run (its ``config.json`` says so; False when unreadable)."""
    try:
        meta = json.loads((Path(path) / "config.json").read_text(encoding="utf-8")) if path is not None else None
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and is_imported(meta)


def config_record(image_size: int, batch_size: int) -> dict[str, Any]:
    """The ``config`` object written for an imported run."""
    return {"arch": IMPORTED_ARCH, "image_size": int(image_size), "batch_size": int(batch_size), "epochs": 0}
