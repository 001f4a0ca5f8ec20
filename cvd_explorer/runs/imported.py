"""``cvd-explorer import``: a user's Keras classifier becomes a run folder.

The model file is checked and loaded with the rules of :mod:`cvd_explorer.runs.safe_load`, its
facts read (:func:`~cvd_explorer.runs.imported_model.inspect_model`), and a run folder is written
in a private staging folder beside ``out``: ``model.keras`` (the very bytes imported) with its
sha256 in ``model.json``, ``manifest.csv``, ``config.json`` (with its ``imported`` record),
``status.json`` (finished), then ``predictions.csv`` and ``summary.json`` by
:func:`~cvd_explorer.runs.evaluate.evaluate_run`. Only a complete run is moved to ``out``: a
refused or failed import leaves ``out`` as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvd_explorer.classes import head_units
from cvd_explorer.errors import RunError
from cvd_explorer.fileio import now_iso, write_bytes, write_json
from cvd_explorer.runs import files
from cvd_explorer.runs.imported_meta import IMPORTED_KEY, ImportedInfo, config_record
from cvd_explorer.runs.safe_load import check_model_config, load_model_bytes, read_model_bytes

if TYPE_CHECKING:
    from cvd_explorer.data.split import Manifest
    from cvd_explorer.runs.imported_model import ModelFacts

PathLike = str | os.PathLike[str]
_KERAS_GRAPHS = {"Functional", "Sequential"}


@dataclass(frozen=True)
class ImportRequest:
    """How to read the model (each None: detect it).

    Attributes:
        classes: the model's class names in output order; must be the manifest's classes in its order.
        preprocess: one of :data:`~cvd_explorer.runs.imported_meta.PREPROCESSING`.
        head: "auto", "probabilities" or "logits".
        size: input side S for a model without a fixed input size.
        output: the output layer to use in a model with several outputs.
        batch_size: prediction batch.
    """

    classes: tuple[str, ...] | None = None
    preprocess: str | None = None
    head: str = "auto"
    size: int | None = None
    output: str | None = None
    batch_size: int = 32


def import_model(source: PathLike, out: PathLike, data: PathLike | None = None, manifest: PathLike | None = None,
                 request: ImportRequest = ImportRequest()) -> dict[str, Any]:
    """Import the ``.keras`` classifier ``source`` as the run folder ``out`` and predict its test split.

    Args:
        source: the model file.
        out: the run folder to create (absent or empty).
        data: the image folder (default: the data folder of the run whose folder ``manifest`` names).
        manifest: a split manifest (a CSV, or another run's folder: the run shares its test images);
            None: the data folder's, written first as ``split`` does when there is none.
        request: how to read the model.

    Returns:
        The ``summary.json`` dict, plus ``"imported"`` (the record written in ``config.json``).

    Raises:
        RunError: a model that cannot be imported (the message names the file); nothing is written to ``out``.
    """
    out = Path(out).expanduser().absolute()
    _check_out(out)
    src = Path(source).expanduser().absolute()
    model_bytes, model = _load(src)
    from cvd_explorer.runs.imported_model import inspect_model

    facts = inspect_model(model, str(src), request.output)
    info = _info(src, facts, request)
    root, split = _split(data, manifest)
    classes = tuple(split.classes)
    _check_classes(src, classes, request.classes, facts.units)
    staging = out.parent / f".{out.name}.import-{uuid.uuid4().hex[:8]}"
    try:
        _write_run(staging, model_bytes, split, root, info, request.batch_size)
        from cvd_explorer.runs.evaluate import evaluate_run

        summary = evaluate_run(staging, batch_size=request.batch_size)
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    reason = facts.preprocess_reason if request.preprocess is None else "asked for"
    return {**summary, IMPORTED_KEY: info.to_dict(), "preprocess_reason": reason}


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out} exists and is not an empty folder; import into a new folder")


def h5_message(path: Path) -> str:
    """The refusal of a legacy HDF5 file, with the conversion steps."""
    return (f"{path} is a Keras 2 / legacy HDF5 (.h5) model file, which cannot be checked before loading; "
            "refused - convert it where you trust it: load it with Keras 2 or tf-keras "
            "(tf_keras.models.load_model('model.h5')) and save it with model.save('model.keras'), then import that")


def _load(src: Path) -> tuple[bytes, Any]:
    """The file's bytes and the model loaded from them (safe mode; HDF5, Lambda, custom objects refused)."""
    try:
        data = read_model_bytes(src)
    except RunError as exc:
        if "HDF5" in str(exc):
            raise RunError(h5_message(src)) from None
        raise
    except (IsADirectoryError, PermissionError) as exc:
        raise RunError(f"{src}: cannot read the model file ({exc.strerror})") from None
    top = _top_object(data)
    if top is not None and top.get("class_name") not in _KERAS_GRAPHS:
        from cvd_explorer.runs.imported_model import subclassed_message

        raise RunError(subclassed_message(str(src), str(top.get("registered_name") or top.get("class_name"))))
    check_model_config(data, str(src))
    return data, load_model_bytes(data, str(src))


def _top_object(data: bytes) -> dict[str, Any] | None:
    """The archive's top-level serialised object (None when unreadable: :func:`check_model_config` says why)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError):
        return None
    return config if isinstance(config, dict) else None


def _info(src: Path, facts: ModelFacts, request: ImportRequest) -> ImportedInfo:
    size = facts.input_size
    if size is None:
        if request.size is None:
            raise RunError(f"{src}: the model takes images of any size; give the input size with --size S")
        size = int(request.size)
    elif request.size is not None and int(request.size) != size:
        raise RunError(f"{src}: the model takes {size}x{size} px images; --size {request.size} differs")
    if request.head == "auto":
        if facts.head is None:
            raise RunError(f"{src}: cannot tell whether the model outputs probabilities or logits from its last "
                           "layer; say it with --head probabilities or --head logits")
        head = facts.head
    else:
        head = request.head
    preprocess = request.preprocess if request.preprocess is not None else facts.preprocess
    return ImportedInfo(str(src), head, preprocess, size, facts.output)


def _split(data: PathLike | None, manifest: PathLike | None) -> tuple[Path, Manifest]:
    """The data folder and the split manifest (another run's is read as it is, never rewritten)."""
    from cvd_explorer.data.split import read_manifest
    from cvd_explorer.runs.setup import data_manifest

    path = Path(manifest).expanduser().absolute() if manifest is not None else None
    if path is not None and path.is_dir():
        if not (path / files.MANIFEST).is_file():
            raise RunError(f"--manifest {path} is a folder without {files.MANIFEST}; name a run folder or a CSV")
        if data is None:
            data = _recorded_root(path)
        path = path / files.MANIFEST
    if data is None:
        raise RunError("give the image folder with --data DIR (or --manifest RUN of a run that records one)")
    root = Path(data).expanduser().absolute()
    if not root.is_dir():
        raise RunError(f"--data {root} is not a folder")
    if path is not None and path.is_file():
        return root, read_manifest(path)
    return root, data_manifest(root, path)


def _recorded_root(run_dir: Path) -> Path:
    try:
        root = json.loads((run_dir / files.CONFIG).read_text(encoding="utf-8")).get("data_root")
    except (OSError, ValueError, AttributeError):
        root = None
    if not isinstance(root, str) or not root:
        raise RunError(f"{run_dir} records no data folder; give it with --data DIR")
    return Path(root)


def _check_classes(src: Path, classes: tuple[str, ...], asked: tuple[str, ...] | None, units: int) -> None:
    if asked is not None and tuple(asked) != classes:
        if sorted(asked) == sorted(classes):
            raise RunError(f"--classes {','.join(asked)} orders the classes otherwise than the manifest "
                           f"({','.join(classes)}); a model whose outputs are in another order is not supported yet")
        raise RunError(f"--classes {','.join(asked)} are not the manifest's classes ({','.join(classes)})")
    expected = head_units(len(classes))
    if units != expected:
        kind = "one sigmoid unit" if expected == 1 else f"{expected} softmax units"
        raise RunError(f"{src}: the model's head has {units} outputs, but the {len(classes)} classes "
                       f"({', '.join(classes)}) need {kind}")


def _write_run(staging: Path, model_bytes: bytes, manifest: Manifest, root: Path, info: ImportedInfo,
               batch_size: int) -> None:
    from cvd_explorer.runs.setup import versions

    staging.mkdir(parents=True)
    write_bytes(staging / files.MODEL, model_bytes)
    sha = hashlib.sha256(model_bytes).hexdigest()
    write_json(staging / files.MODEL_INFO, {"sha256": sha, "epoch": None, "val_accuracy": None, IMPORTED_KEY: True})
    write_bytes(staging / files.MANIFEST, manifest.to_bytes())
    classes = list(manifest.classes)
    write_json(staging / files.CONFIG, {
        "schema_version": files.SCHEMA_VERSION,
        "config": config_record(info.input_size, batch_size),
        IMPORTED_KEY: info.to_dict(),
        "versions": versions(),
        "data_root": str(root),
        "classes": classes,
        **({"positive": classes[1]} if len(classes) == 2 else {}),
        "manifest": {"file": files.MANIFEST, "sha256": manifest.sha256, "seed": manifest.seed},
        "device": _device(),
        "created": now_iso(),
        "probes": {"images": []},
    })
    now = now_iso()
    write_json(staging / files.STATUS, {"state": "finished", "phase": "done", "epoch": 0, "epochs": 0,
                                        "error": None, "started": now, "updated": now, "heartbeat": now})


def _device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return f"{len(gpus)}x GPU" if gpus else "CPU"


def _publish(staging: Path, out: Path) -> None:
    """Move the finished run into place (``out`` is absent or an empty folder)."""
    if out.is_dir():
        out.rmdir()  # empty: checked before anything was written; a file put there since makes this fail
    os.replace(staging, out)
