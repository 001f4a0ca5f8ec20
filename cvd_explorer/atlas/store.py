"""The atlas folder ``RUN/atlas/<split>-<method>/``: names, the key that ties it to its model and
manifest, streamed chunks while computing, and the finished files (docs/run-directory.md).

Every file is written atomically. While computing, each batch becomes one ``chunks/chunk-<start>.npz``;
a killed computation keeps its finished chunks and continues after the last. ``atlas.json`` says
``"state": "partial"`` until the finished files exist, then ``"complete"``: a reader trusts only a
complete atlas for which :func:`is_current` holds (same schema version, model sha256, manifest
sha256, split, method, masks and sizes).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer import fileio
from cvd_explorer.atlas.mapstats import STAT_SIZE
from cvd_explorer.atlas.schema import AtlasRow, Chunk
from cvd_explorer.errors import DataError, RunError
from cvd_explorer.runs.files import ATLAS_DIR

if TYPE_CHECKING:
    from cvd_explorer.runs import Run

SCHEMA_VERSION = 1
INDEX = "atlas.json"
CHUNKS = "chunks"
IMAGES = "images.csv"
ARRAYS = "arrays.npz"
LAYER_STATS = "layer_stats.npz"
MEAN_CAMS = "mean_cams.npz"
SUMMARY = "summary.json"
LABEL_ISSUES = "label_issues.csv"
SLICES = "slices.npz"
REQUIRED_FILES = (IMAGES, ARRAYS, LAYER_STATS, MEAN_CAMS, SUMMARY, LABEL_ISSUES)
"""The files every complete atlas has (also those written before the slices)."""
FINISHED_FILES = (*REQUIRED_FILES, SLICES)
"""Every file a finished atlas writes now."""
SYNTHETIC_MASKS = "_masks"
FIX = "delete the atlas folder and compute it again (`cvd-explorer atlas RUN --force`)"


@dataclass(frozen=True)
class AtlasKey:
    """What an atlas depends on: an atlas is current only for exactly this key (:func:`is_current`).

    Attributes:
        split, method: the split explained and the CAM method.
        model_sha256: of the run's ``model.keras`` (from ``model.json``).
        manifest_sha256: of the run's manifest (from ``config.json``).
        masks: the object-masks folder used (absolute path), or None.
        image_size: the model's input side; stat_size: the statistics grid side.
    """

    split: str
    method: str
    model_sha256: str | None
    manifest_sha256: str | None
    masks: str | None
    image_size: int
    stat_size: int = STAT_SIZE

    def to_json(self) -> dict[str, Any]:
        """The ``"key"`` object of ``atlas.json``."""
        return asdict(self)


def masks_folder(run: Run, masks: str | os.PathLike[str] | None) -> Path | None:
    """The folder of PNG masks: ``masks`` as given, else the data's own (:func:`default_masks`)."""
    if masks is not None:
        folder = Path(masks).expanduser().absolute()
        if not folder.is_dir():
            raise DataError(f"--masks {folder} is not a folder; give the folder holding <relative path>.png masks")
        return folder
    return default_masks(Path(run.data_root))


def default_masks(root: Path) -> Path | None:
    """The masks a data folder brings: the synthetic data's ``_masks``, else Oxford-IIIT Pet's
    ``annotations/trimaps`` (in the folder or its one sub-folder), else None."""
    auto = root / SYNTHETIC_MASKS
    if auto.is_dir():
        return auto
    from cvd_explorer.data.masks import TRIMAP_DIR

    for base in (root, *sorted(p for p in root.glob("*") if p.is_dir())[:1]):
        trimaps = base.joinpath(*TRIMAP_DIR)
        if trimaps.is_dir():
            return trimaps
    return None


def atlas_key(run: Run, split: str, method: str, mask_dir: Path | None) -> AtlasKey:
    """The key of the run's atlas of ``split`` and ``method`` with the masks of ``mask_dir``.

    Raises:
        RunError: the run has no model yet.
    """
    info = run.model_info
    if info is None or not (run.path / "model.keras").is_file():
        raise RunError(f"{run.path} has no model yet: train the run (or wait for its first epoch) before the atlas")
    return AtlasKey(
        split=split, method=method, model_sha256=info.get("sha256"),
        manifest_sha256=run.meta.get("manifest", {}).get("sha256"),
        masks=str(mask_dir) if mask_dir is not None else None, image_size=int(run.config.image_size),
    )


def is_current(index: Mapping[str, Any] | None, key: AtlasKey) -> bool:
    """Whether an ``atlas.json`` was written by this schema version for exactly this key (model,
    manifest, split, method, masks, sizes). Whether the atlas is finished is ``index["state"]``."""
    if not index:
        return False
    return index.get("schema_version") == SCHEMA_VERSION and index.get("key") == key.to_json()


def atlas_dir(run_path: str | os.PathLike[str], split: str, method: str) -> Path:
    """``RUN/atlas/<split>-<method>``."""
    return Path(run_path) / ATLAS_DIR / f"{split}-{method}"


def chunk_name(start: int) -> str:
    """File name of the chunk whose first image is number ``start`` of the split."""
    return f"chunk-{start:07d}.npz"


def write_json(path: Path, data: Any) -> None:
    """Atomically write JSON, NaN and infinity as null."""
    fileio.write_json(path, data)


def read_json(path: Path) -> Any:
    """Parse a JSON file of the atlas; a damaged one raises RunError naming it."""
    return fileio.load_json(path, FIX)


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Atomically write a compressed ``.npz``."""
    fileio.write_npz(path, arrays)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` of the atlas (no pickles); a damaged one raises RunError naming it."""
    return fileio.read_npz(path, FIX)


def write_rows(path: Path, rows: Sequence[AtlasRow]) -> None:
    """Atomically write ``images.csv`` (header: :attr:`AtlasRow.HEADER`)."""
    fileio.write_csv(path, AtlasRow.HEADER, (row.to_csv() for row in rows))


def read_rows(path: Path) -> list[AtlasRow]:
    """The rows of ``images.csv``; RunError naming the file when one does not parse."""
    try:
        return [AtlasRow.from_csv(record) for record in fileio.read_csv(path)]
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{path} is damaged ({exc!r}); {FIX}") from None


def read_index(folder: Path) -> dict[str, Any] | None:
    """``atlas.json`` of ``folder``, or None when there is none."""
    index = fileio.load_json(folder / INDEX, FIX, missing_ok=True)
    return index if isinstance(index, dict) else None


def reset(folder: Path) -> None:
    """Remove a stale or damaged atlas: only the files this module writes (and its temporary files)."""
    chunks = folder / CHUNKS
    if chunks.is_dir():
        shutil.rmtree(chunks)
    for name in (*FINISHED_FILES, INDEX):
        (folder / name).unlink(missing_ok=True)
    fileio.remove_strays(folder)


def write_chunk(folder: Path, start: int, chunk: Chunk) -> None:
    """Atomically write ``chunks/chunk-<start>.npz``."""
    (folder / CHUNKS).mkdir(parents=True, exist_ok=True)
    write_npz(folder / CHUNKS / chunk_name(start), chunk.to_npz())


def iter_chunks(folder: Path) -> Iterator[tuple[int, Chunk]]:
    """``(start, chunk)`` of every finished chunk, in order."""
    chunks = folder / CHUNKS
    if not chunks.is_dir():
        return
    for path in sorted(chunks.glob("chunk-*.npz")):
        try:
            start = int(path.stem.split("-", 1)[1])
        except ValueError:
            continue
        arrays = read_npz(path)
        try:
            yield start, Chunk.from_npz(arrays)
        except KeyError as exc:
            raise RunError(f"{path} lacks the array {exc}; {FIX}") from None
