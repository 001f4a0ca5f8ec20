"""Models a user might bring, built small (weights=None), and their import through the CLI, shared by
the import tests (tests/unit/test_import_*.py) and the session fixture ``imported_digits_run``."""

from __future__ import annotations

from pathlib import Path

import keras

NESTED_SIZE = 64  # ResNet50's conv5 maps are 2x2 at 64 px (1x1 at 32)


def nested_resnet(classes: int, size: int = NESTED_SIZE) -> keras.Model:
    """``Sequential([ResNet50 backbone, GAP, Dense softmax/sigmoid])``, the transfer-learning classic."""
    units, activation = (1, "sigmoid") if classes == 2 else (classes, "softmax")
    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.applications.ResNet50(include_top=False, weights=None),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(units, activation=activation),
    ], name="my_classifier")


def nested_mobilenet(size: int = 32) -> keras.Model:
    """A binary ``Sequential([MobileNetV2 (alpha 0.35) backbone, GAP, Dense(1, sigmoid)])``."""
    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35, input_shape=(size, size, 3)),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="my_binary_classifier")


def rescaling_logits(units: int, size: int = 32) -> keras.Model:
    """A functional model with its own ``Rescaling`` and a linear (logits) head."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="first_conv")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(units, name="logits")(x), name="with_rescaling")


def import_cli(model: keras.Model | Path, out: Path, *args: str) -> int:
    """``cvd-explorer import`` of a model (saved beside ``out`` first when it is a keras.Model)."""
    from cvd_explorer.cli import main

    path = model if isinstance(model, Path) else out.parent / f"{out.name}-source.keras"
    if isinstance(model, keras.Model):
        model.save(path)
    return main(["import", str(path), "--out", str(out), *args])


def imported_run(data: Path, manifest_run: Path, out: Path) -> Path:
    """The nested ResNet50 10-class model imported on ``manifest_run``'s test images (reused when done)."""
    if not (out / "summary.json").is_file():
        keras.utils.set_random_seed(0)
        code = import_cli(nested_resnet(10), out, "--data", str(data), "--manifest", str(manifest_run))
        assert code == 0, f"cvd-explorer import exited {code}"
    return out


def imported_binary_run(manifest_run: Path, out: Path) -> Path:
    """The nested MobileNetV2 binary model imported on ``manifest_run``'s test images (its data folder)."""
    if not (out / "summary.json").is_file():
        keras.utils.set_random_seed(0)
        code = import_cli(nested_mobilenet(), out, "--manifest", str(manifest_run))
        assert code == 0, f"cvd-explorer import exited {code}"
    return out
