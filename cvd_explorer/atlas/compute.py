"""The atlas pass: every image of a split through the explain engine once, streamed to disk.

Per batch, one forward and one backward pass give every conv layer's map, every block output's
map, the logits and the pooled features (:func:`cvd_explorer.explain.engine.explain_batch`); the
maps are reduced at once to the statistics of :mod:`cvd_explorer.atlas.mapstats`, a small map of
the deepest layer, and sums for the mean maps, then dropped. So memory grows with the number of
images only by those rows (about 2 KB per image and layer set, plus the features).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.atlas import mapstats, store
from cvd_explorer.atlas.outcomes import predicted_of_logits
from cvd_explorer.atlas.schema import Chunk, group_index, groups
from cvd_explorer.errors import DataError, RunError

if TYPE_CHECKING:
    from cvd_explorer.data.split import ManifestRow
    from cvd_explorer.runs import Run

DEFAULT_BATCH = 8
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Batch:
    """Images of one batch that loaded, and the ones that did not."""

    indices: np.ndarray
    images: np.ndarray
    masks: np.ndarray
    has_mask: np.ndarray
    failed: list[tuple[int, str]]


@dataclass(frozen=True)
class PassSpec:
    """What one atlas pass explains and how.

    Attributes:
        root: the data folder; paths: every image of the split relative to it (N).
        labels: int64 ``(N,)`` true class index of each image, into ``classes``.
        classes: the run's class names (they give the mean-map groups).
        layers: conv layers in depth order, deepest last (L); blocks: block outputs in depth order (B).
        method: the CAM method; size: the model's input side; mask_dir: PNG masks or None.
        batch_size: images per engine pass.
    """

    root: Path
    paths: Sequence[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    layers: tuple[str, ...]
    blocks: tuple[str, ...]
    method: str
    size: int
    mask_dir: Path | None
    batch_size: int = DEFAULT_BATCH

    @property
    def n_groups(self) -> int:
        """Mean-map groups: every class x outcome."""
        return len(groups(self.classes))


def load_mask(folder: Path, relpath: str, size: int) -> np.ndarray | None:
    """The object mask of an image as bool ``(size, size)``, or None when there is none.

    The mask is ``folder/<relpath with .png>``, or else ``folder/<file stem>.png`` (a flat folder such as
    Oxford-IIIT Pet's ``annotations/trimaps``). The synthetic data's masks hold 1 for the labelled
    animal and 2 for the other animal (and 0 background); an Oxford-IIIT Pet trimap holds 1 pet,
    2 background and 3 border, and no 0: its pet is 1 or 3 (:mod:`cvd_explorer.data.masks`). Any
    other mask counts every pixel above half its maximum. A mask of another size is resized (nearest);
    an unreadable one counts as missing.
    """
    from PIL import Image, UnidentifiedImageError

    from cvd_explorer.data.masks import TRIMAP_BORDER, TRIMAP_PET

    path = folder / PurePosixPath(relpath).with_suffix(".png")
    if not path.is_file():
        path = folder / (PurePosixPath(relpath).stem + ".png")
        if not path.is_file():
            return None
    try:
        with Image.open(path) as im:
            m = np.asarray(im.convert("L").resize((size, size), Image.Resampling.NEAREST))
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    values = set(np.unique(m).tolist())
    if values <= {1, 2, 3} and TRIMAP_BORDER in values:
        return np.asarray((m == TRIMAP_PET) | (m == TRIMAP_BORDER))
    if values <= {0, 1, 2}:
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
    batch: Batch, cams: dict[str, np.ndarray], logits: np.ndarray, features: np.ndarray, spec: PassSpec
) -> Chunk:
    """One batch's chunk: per-image rows and the sums of the mean maps.

    Args:
        batch: the loaded images (n).
        cams: raw maps ``{layer: (n, h, w)}`` for every conv layer and block output of ``spec``.
        logits: ``(n,)`` logit of the positive class (one-unit sigmoid head), or ``(n, K)`` the K class
            logits (softmax head).
        features: ``(n, D)`` the head's input.
        spec: the pass (layers, blocks, the images' labels and classes).

    Returns:
        The :class:`~cvd_explorer.atlas.schema.Chunk`: statistics per layer, the deepest layer's map on
        the grid (peak 1) as thumbnail, and per block output the sums of unit-mass maps by group
        (:func:`~cvd_explorer.atlas.schema.group_index`).
    """
    layers, blocks = spec.layers, spec.blocks
    n = len(batch.indices)
    labels = spec.labels[batch.indices]
    deepest = mapstats.on_grid(cams[layers[-1]])
    cover = mapstats.masks_on_grid(batch.masks) if batch.has_mask.any() else None
    columns: dict[str, list[np.ndarray]] = {name: [] for name in mapstats.STATISTICS}
    for layer in layers:
        grid = deepest if layer == layers[-1] else mapstats.on_grid(cams[layer])
        for name, values in mapstats.layer_statistics(grid, deepest, cover, batch.has_mask).items():
            columns[name].append(values)
    group = group_index(labels, predicted_of_logits(logits) == labels)
    chunk = Chunk.empty(len(layers), len(blocks), spec.n_groups, batch.failed)
    for b, block in enumerate(blocks):
        unit = mapstats.unit_mass(mapstats.on_grid(cams[block]))
        nonblank = unit.sum(axis=(1, 2)) > 0
        for g in range(spec.n_groups):
            sel = (group == g) & nonblank
            chunk.block_sums[b, g] = unit[sel].sum(axis=0)
            chunk.block_counts[b, g] = int(sel.sum())
    peak = deepest.max(axis=(1, 2), keepdims=True)
    thumbs = np.where(peak > 0, deepest / np.where(peak > 0, peak, 1), 0)
    return Chunk(
        indices=batch.indices,
        logits=np.asarray(logits, np.float32).reshape((n,) if np.ndim(logits) == 1 else (n, -1)),
        features=np.asarray(features, np.float16).reshape(n, -1),
        thumbs=thumbs.astype(np.float16),
        has_mask=batch.has_mask,
        stats={name: np.stack(parts, axis=1) if n else chunk.stats[name] for name, parts in columns.items()},
        block_sums=chunk.block_sums, block_counts=chunk.block_counts,
        failed=chunk.failed, failed_reason=chunk.failed_reason,
    )


def stream(
    model: Any, spec: PassSpec, todo: Sequence[int], write: Callable[[int, Chunk], None],
    progress: Progress | None = None, done: int = 0,
) -> float:
    """Explain the images ``todo`` in batches, writing one chunk per batch; returns the seconds spent.

    Decoding the next batch runs on a thread while the engine works on the current one.
    """
    from cvd_explorer.explain.engine import explain_batch

    wanted = [*spec.layers, *[b for b in spec.blocks if b not in spec.layers]]
    size = spec.batch_size
    batches = [list(todo[i : i + size]) for i in range(0, len(todo), size)]
    total = done + len(todo)
    started = time.perf_counter()

    def load(indices: Sequence[int]) -> Batch:
        return load_batch(spec.root, spec.paths, indices, spec.size, spec.mask_dir)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="atlas-decode") as pool:
        pending: Future[Batch] | None = pool.submit(load, batches[0]) if batches else None
        for k, indices in enumerate(batches):
            assert pending is not None
            batch = pending.result()
            pending = pool.submit(load, batches[k + 1]) if k + 1 < len(batches) else None
            if len(batch.indices):
                result = explain_batch(model, batch.images, wanted, method=spec.method)
                chunk = reduce_batch(batch, result.cams, result.logits, result.features, spec)
            else:
                chunk = Chunk.empty(len(spec.layers), len(spec.blocks), spec.n_groups, batch.failed)
            write(indices[0], chunk)
            done += len(indices)
            if progress is not None:
                progress(done, total)
    return time.perf_counter() - started


def check_split(run: Run, split: str) -> list[ManifestRow]:
    """The manifest rows of ``split``; a clear error when there are none."""
    rows = list(run.manifest.split_rows(split))
    if not rows:
        raise RunError(f"{run.path}: the manifest has no {split!r} images; choose --split train, val or test")
    return rows


def todo_indices(n: int, covered: set[int]) -> list[int]:
    """Images of the split that no finished chunk holds yet, in order."""
    return [i for i in range(n) if i not in covered]


def store_chunk(folder: Path) -> Callable[[int, Chunk], None]:
    """A writer of ``chunks/chunk-<start>.npz`` (atomic)."""
    return lambda start, chunk: store.write_chunk(folder, start, chunk)
