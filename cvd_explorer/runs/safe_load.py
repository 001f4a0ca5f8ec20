"""Load Keras model files without running code from them.

Keras' ``.keras`` format is a zip with a ``config.json`` describing the model. Before anything is
deserialised that config is checked: every serialised object must come from Keras itself or be
one of :data:`ALLOWED_CUSTOM_OBJECTS`; Lambda layers and serialised Python functions are
refused. Loading then uses ``keras.saving.load_model(..., safe_mode=True)``. Legacy HDF5
whole-model files (``.h5``) are refused: they cannot be checked this way.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cvd_explorer.errors import RunError

ALLOWED_CUSTOM_OBJECTS = frozenset({"cvd_explorer>CaffePreprocess", "cvd_explorer>SmoothedSparseCrossentropy"})
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_CODE_CLASSES = {"Lambda", "__lambda__"}


def read_model_bytes(path: str | os.PathLike[str], expected_sha256: str | None = None) -> bytes:
    """Read a ``.keras`` file once, refusing HDF5 files and checking its hash.

    Args:
        path: the model file.
        expected_sha256: hex digest it must have (None: no check).

    Returns:
        The file's bytes (hash and load the same bytes, so a file replaced meanwhile cannot slip in).
    """
    path = Path(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise RunError(_h5_message(path))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RunError(f"{path}: no such model file") from None
    if data.startswith(_HDF5_MAGIC):
        raise RunError(_h5_message(path))
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise RunError(
                f"{path} changed since the run recorded it (sha256 {actual[:12]}... instead of "
                f"{expected_sha256[:12]}...); it is not the run's checkpoint - re-run `cvd-explorer evaluate` "
                "only if you replaced it on purpose"
            )
    return data


def check_model_config(data: bytes, name: str = "model") -> dict[str, Any]:
    """Refuse a ``.keras`` archive whose config holds Lambda layers or unknown custom objects.

    Returns:
        The parsed ``config.json`` of the archive.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            config: dict[str, Any] = json.loads(archive.read("config.json"))
    except zipfile.BadZipFile:
        raise RunError(f"{name} is not a Keras .keras file (not a zip archive)") from None
    except KeyError:
        raise RunError(f"{name} is not a Keras .keras file (no config.json inside)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunError(f"{name}: config.json inside is not valid JSON ({exc})") from None
    for item in _objects(config):
        class_name = item.get("class_name")
        if class_name in _CODE_CLASSES:
            layer = item.get("config", {}).get("name", "?") if isinstance(item.get("config"), dict) else "?"
            raise RunError(
                f"{name} contains a Lambda layer ({layer!r}) whose Python code would run on loading; "
                "refused - rebuild the model without Lambda layers"
            )
        module = item.get("module")
        if module is None or module == "keras" or str(module).startswith("keras."):
            continue
        registered = item.get("registered_name") or f"{module}.{class_name}"
        if class_name == "function":  # a serialised Python function: name it by module.function
            registered = f"{module}.{item.get('config')}"
        if registered not in ALLOWED_CUSTOM_OBJECTS:
            raise RunError(
                f"{name} uses the unknown custom object {registered!r}; only Keras objects and "
                f"{', '.join(sorted(ALLOWED_CUSTOM_OBJECTS))} are loaded - refused"
            )
    return config


def load_model_file(
    path: str | os.PathLike[str], expected_sha256: str | None = None, compile: bool = False
) -> Any:
    """Check and load a ``.keras`` model in Keras' safe mode.

    Args:
        path: ``.keras`` file.
        expected_sha256: the hash recorded when it was written (None: not checked).
        compile: restore the training configuration (optimizer, loss) too.

    Returns:
        The ``keras.Model``.
    """
    data = read_model_bytes(path, expected_sha256)
    check_model_config(data, str(path))
    return load_model_bytes(data, str(path), compile=compile)


def load_model_bytes(data: bytes, name: str, compile: bool = False) -> Any:
    """Load the bytes of a ``.keras`` file already checked by :func:`check_model_config` (``name``
    is the file, for messages), in Keras' safe mode."""
    import keras

    import cvd_explorer.layers  # noqa: F401  registers the allowed custom layers

    # Load the very bytes that were hashed and checked, from a private copy.
    with tempfile.TemporaryDirectory(prefix="cvd-model-") as folder:
        copy = Path(folder) / "model.keras"
        copy.write_bytes(data)
        try:
            return keras.saving.load_model(copy, compile=compile, safe_mode=True)
        except Exception as exc:  # Keras raises many types for broken archives
            raise RunError(f"{name}: Keras could not load the model ({exc.__class__.__name__}: {exc})") from exc


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict with a ``class_name`` key anywhere in a serialised config."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _h5_message(path: Path) -> str:
    return (
        f"{path} is a legacy HDF5 (.h5) whole-model file, which cannot be checked before loading; "
        "refused - load it where you trust it and re-save it with model.save('model.keras')"
    )
