"""The atlas pass: every image of a split through the explain engine once, streamed to disk.

Per batch, one forward and one backward pass give every conv layer's map, every block output's
map, the logits and the pooled features (:func:`cvd_explorer.explain.engine.explain_batch`); the
maps are reduced at once to the statistics of :mod:`cvd_explorer.atlas.mapstats`, a small map of
the deepest layer, and sums for the mean maps, then dropped. So memory grows with the number of
images only by those rows (about 2 KB per image and layer set, plus the features).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from cvd_explorer.atlas import mapstats, store
from cvd_explorer.errors import DataError, RunError

DEFAULT_BATCH = 8
SYNTHETIC_MASKS = "_masks"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Batch:
    """Images of one batch that loaded, and the ones that did not."""

    indices: np.ndarray
    images: np.ndarray
    masks: np.ndarray
    has_mask: np.ndarray
    failed: list[tuple[int, str]]


def masks_folder(run: Any, masks: str | os.PathLike[str] | None) -> Path | None:
    """The folder of PNG masks: ``masks`` as given, else the synthetic data's ``DATA/_masks`` if present."""
    if masks is not None:
        folder = Path(masks).expanduser().absolute()
        if not folder.is_dir():
            raise DataError(f"--masks {folder} is not a folder; give the folder holding <relative path>.png masks")
        return folder
    auto = Path(run.data_root) / SYNTHETIC_MASKS
    return auto if auto.is_dir() else None


def load_mask(folder: Path, relpath: str, size: int) -> np.ndarray | None:
    """The object mask of an image as bool ``(size, size)``, or None when there is none.

    The mask is ``folder/<relpath with .png>``. The synthetic data's masks hold 1 for the labelled
    animal and 2 for the other animal; any other mask counts every pixel above half its maximum.
    A mask of another size is resized (nearest); an unreadable one counts as missing.
    """
    from PIL import Image, UnidentifiedImageError

    path = folder / PurePosixPath(relpath).with_suffix(".png")
    if not path.is_file():
        return None
    try:
        with Image.open(path) as im:
            m = np.asarray(im.convert("L").resize((size, size), Image.Resampling.NEAREST))
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    values = np.unique(m)
    if set(values.tolist()) <= {0, 1, 2}:
        return np.asarray(m == 1)
    return np.asarray(m > (int(m.max()) // 2))


def load_batch(
    root: Path, paths: Sequence[str], indices: Sequence[int], size: int, mask_dir: Path | None
) -> Batch:
    """Decode the images of one batch with the project's one loader (bad files are skipped, not fatal)."""
    from cvd_explorer.data.loader import load_image

    images, masks, has_mask, ok, failed = [], [], [], [], []
    for i in indices:
        try:
            images.append(load_image(root / paths[i], size=(size, size)))
        except (DataError, OSError) as exc:
            failed.append((int(i), str(exc)))
            continue
        mask = load_mask(mask_dir, paths[i], size) if mask_dir is not None else None
        masks.append(mask if mask is not None else np.zeros((size, size), bool))
        has_mask.append(mask is not None)
        ok.append(int(i))
    n = len(ok)
    return Batch(
        np.asarray(ok, np.int64),
        np.stack(images).astype(np.float32) if n else np.zeros((0, size, size, 3), np.float32),
        np.stack(masks) if n else np.zeros((0, size, size), bool),
        np.asarray(has_mask, bool),
        failed,
    )


def reduce_batch(
    batch: Batch, cams: dict[str, np.ndarray], layers: Sequence[str], blocks: Sequence[str],
    logits: np.ndarray, features: np.ndarray, labels: np.ndarray,
) -> dict[str, np.ndarray]:
    """One batch's chunk: per-image rows and the sums of the mean maps.

    Args:
        batch: the loaded images.
        cams: raw maps ``{layer: (n, h, w)}`` for every conv layer and block output.
        layers: conv layers in depth order, deepest last (L).
        blocks: block outputs in depth order (B).
        logits: ``(n,)`` logit of the positive class.
        features: ``(n, D)`` the head's input.
        labels: ``(n,)`` true class index.

    Returns:
        Arrays of ``chunks/chunk-*.npz``: ``indices``, ``logits``, ``features`` (float16), ``thumbs``
        (deepest layer on the grid, peak 1, float16), ``has_mask``, ``stat_<name>`` ``(n, L)`` float32,
        ``block_sums`` ``(B, 4, S, S)`` float64 and ``block_counts`` ``(B, 4)`` by group
        ``label * 2 + misclassified`` of unit-mass maps, ``failed`` / ``failed_reason``.
    """
    n = len(batch.indices)
    deepest = mapstats.on_grid(cams[layers[-1]])
    cover = mapstats.masks_on_grid(batch.masks) if batch.has_mask.any() else None
    columns: dict[str, list[np.ndarray]] = {name: [] for name in mapstats.STATISTICS}
    for layer in layers:
        grid = deepest if layer == layers[-1] else mapstats.on_grid(cams[layer])
        for name, values in mapstats.layer_statistics(grid, deepest, cover, batch.has_mask).items():
            columns[name].append(values)
    group = labels.astype(np.int64) * 2 + (((logits > 0).astype(np.int64)) != labels).astype(np.int64)
    sums = np.zeros((len(blocks), 4, mapstats.STAT_SIZE, mapstats.STAT_SIZE))
    counts = np.zeros((len(blocks), 4), np.int64)
    for b, block in enumerate(blocks):
        unit = mapstats.unit_mass(mapstats.on_grid(cams[block]))
        nonblank = unit.sum(axis=(1, 2)) > 0
        for g in range(4):
            sel = (group == g) & nonblank
            sums[b, g] = unit[sel].sum(axis=0)
            counts[b, g] = int(sel.sum())
    peak = deepest.max(axis=(1, 2), keepdims=True)
    thumbs = np.where(peak > 0, deepest / np.where(peak > 0, peak, 1), 0)
    failed = [f for f, _ in batch.failed]
    reasons = [r for _, r in batch.failed]
    out: dict[str, np.ndarray] = {
        "indices": batch.indices,
        "logits": np.asarray(logits, np.float32).reshape(n),
        "features": np.asarray(features, np.float16).reshape(n, -1),
        "thumbs": thumbs.astype(np.float16),
        "has_mask": batch.has_mask,
        "block_sums": sums,
        "block_counts": counts,
        "failed": np.asarray(failed, np.int64),
        "failed_reason": np.asarray(reasons, dtype=str) if reasons else np.zeros(0, dtype="<U1"),
    }
    for name, parts in columns.items():
        out[f"stat_{name}"] = np.stack(parts, axis=1) if n else np.zeros((0, len(layers)), np.float32)
    return out


def stream(
    model: Any, root: Path, paths: Sequence[str], labels: np.ndarray, todo: Sequence[int], *, size: int,
    method: str, layers: Sequence[str], blocks: Sequence[str], mask_dir: Path | None, batch_size: int,
    write: Callable[[int, dict[str, np.ndarray]], None], progress: Progress | None = None, done: int = 0,
) -> float:
    """Explain the images ``todo`` in batches, writing one chunk per batch; returns the seconds spent.

    Decoding the next batch runs on a thread while the engine works on the current one.
    """
    from cvd_explorer.explain.engine import explain_batch

    wanted = [*layers, *[b for b in blocks if b not in layers]]
    batches = [list(todo[i : i + batch_size]) for i in range(0, len(todo), batch_size)]
    total = done + len(todo)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="atlas-decode") as pool:
        pending: Future[Batch] | None = None
        if batches:
            pending = pool.submit(load_batch, root, paths, batches[0], size, mask_dir)
        for k, indices in enumerate(batches):
            assert pending is not None
            batch = pending.result()
            pending = None
            if k + 1 < len(batches):
                pending = pool.submit(load_batch, root, paths, batches[k + 1], size, mask_dir)
            if len(batch.indices):
                result = explain_batch(model, batch.images, wanted, method=method)
                chunk = reduce_batch(batch, result.cams, layers, blocks, result.logits, result.features,
                                     labels[batch.indices])
            else:
                chunk = _empty_chunk(batch, len(layers), len(blocks))
            write(indices[0], chunk)
            done += len(indices)
            if progress is not None:
                progress(done, total)
    return time.perf_counter() - started


def _empty_chunk(batch: Batch, n_layers: int, n_blocks: int) -> dict[str, np.ndarray]:
    """The chunk of a batch where no image loaded: only the failures."""
    s = mapstats.STAT_SIZE
    out: dict[str, np.ndarray] = {
        "indices": np.zeros(0, np.int64), "logits": np.zeros(0, np.float32), "features": np.zeros((0, 0), np.float16),
        "thumbs": np.zeros((0, s, s), np.float16), "has_mask": np.zeros(0, bool),
        "block_sums": np.zeros((n_blocks, 4, s, s)), "block_counts": np.zeros((n_blocks, 4), np.int64),
        "failed": np.asarray([f for f, _ in batch.failed], np.int64),
        "failed_reason": np.asarray([r for _, r in batch.failed], dtype=str),
    }
    for name in mapstats.STATISTICS:
        out[f"stat_{name}"] = np.zeros((0, n_layers), np.float32)
    return out


def check_split(run: Any, split: str) -> list[Any]:
    """The manifest rows of ``split``; a clear error when there are none."""
    rows = list(run.manifest.split_rows(split))
    if not rows:
        raise RunError(f"{run.path}: the manifest has no {split!r} images; choose --split train, val or test")
    return rows


def todo_indices(n: int, covered: set[int]) -> list[int]:
    """Images of the split that no finished chunk holds yet, in order."""
    return [i for i in range(n) if i not in covered]


def store_chunk(folder: Path) -> Callable[[int, dict[str, np.ndarray]], None]:
    """A writer of ``chunks/chunk-<start>.npz`` (atomic)."""
    (folder / store.CHUNKS).mkdir(parents=True, exist_ok=True)

    def write(start: int, arrays: dict[str, np.ndarray]) -> None:
        store.write_npz(folder / store.CHUNKS / store.chunk_name(start), arrays)

    return write
