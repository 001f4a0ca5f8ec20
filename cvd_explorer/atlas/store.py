"""The atlas folder ``RUN/atlas/<split>-<method>/``: names, the key that ties it to its model and
manifest, streamed chunks while computing, and the finished files (docs/run-directory.md).

Every file is written atomically. While computing, each batch becomes one ``chunks/chunk-<start>.npz``;
a killed computation keeps its finished chunks and continues after the last. ``atlas.json`` says
``"state": "partial"`` until the finished files exist, then ``"complete"``: a reader trusts only a
complete atlas whose key matches the run (same model sha256, manifest sha256, method, masks).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.atomic import write_bytes
from cvd_explorer.errors import RunError
from cvd_explorer.runs.files import ATLAS_DIR
from cvd_explorer.runs.io import read_json as io_read_json
from cvd_explorer.runs.io import write_json as io_write_json

SCHEMA_VERSION = 1
INDEX = "atlas.json"
CHUNKS = "chunks"
IMAGES = "images.csv"
ARRAYS = "arrays.npz"
LAYER_STATS = "layer_stats.npz"
MEAN_CAMS = "mean_cams.npz"
SUMMARY = "summary.json"
LABEL_ISSUES = "label_issues.csv"
FINISHED_FILES = (IMAGES, ARRAYS, LAYER_STATS, MEAN_CAMS, SUMMARY, LABEL_ISSUES)
IMAGE_COLUMNS = (
    "path", "label", "prediction", "p", "loss", "correct", "x", "y",
    "group", "copy_elsewhere", "label_score", "suspect",
)


def atlas_dir(run_path: str | os.PathLike[str], split: str, method: str) -> Path:
    """``RUN/atlas/<split>-<method>``."""
    return Path(run_path) / ATLAS_DIR / f"{split}-{method}"


def chunk_name(start: int) -> str:
    """File name of the chunk whose first image is number ``start`` of the split."""
    return f"chunk-{start:07d}.npz"


def write_json(path: Path, data: Any) -> None:
    """Atomically write JSON, NaN and infinity as null (:func:`cvd_explorer.runs.io.write_json`)."""
    io_write_json(path, data)


def read_json(path: Path) -> Any:
    """Parse a JSON file; a damaged one raises RunError naming it."""
    try:
        return io_read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is not valid JSON ({exc}); delete the atlas folder and compute it again") from None


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Atomically write a compressed ``.npz``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, allow_pickle=False, **{k: np.asarray(v) for k, v in arrays.items()})
    write_bytes(path, buf.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def read_index(folder: Path) -> dict[str, Any] | None:
    """``atlas.json`` of ``folder``, or None when there is none."""
    path = folder / INDEX
    if not path.is_file():
        return None
    index = read_json(path)
    return index if isinstance(index, dict) else None


def matches(index: Mapping[str, Any] | None, key: Mapping[str, Any]) -> bool:
    """Whether an atlas index was computed for exactly this key (schema, model, manifest, method, ...)."""
    if not index:
        return False
    return index.get("schema_version") == SCHEMA_VERSION and index.get("key") == dict(key)


def reset(folder: Path) -> None:
    """Remove a stale or damaged atlas: only the files this module writes (and its temporary files)."""
    chunks = folder / CHUNKS
    if chunks.is_dir():
        shutil.rmtree(chunks)
    for name in (*FINISHED_FILES, INDEX):
        (folder / name).unlink(missing_ok=True)
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def iter_chunks(folder: Path) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """``(start, arrays)`` of every finished chunk, in order."""
    chunks = folder / CHUNKS
    if not chunks.is_dir():
        return
    for path in sorted(chunks.glob("chunk-*.npz")):
        try:
            start = int(path.stem.split("-", 1)[1])
        except ValueError:
            continue
        yield start, read_npz(path)
