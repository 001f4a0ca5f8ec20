"""``compute_atlas``: the split-wide pass over a run, resumable, tied to its model and manifest."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.atlas import compute, store
from cvd_explorer.atlas.finish import finish
from cvd_explorer.atlas.result import AtlasData, load_atlas
from cvd_explorer.errors import RunError

if TYPE_CHECKING:
    from cvd_explorer.runs import Run


def compute_atlas(
    run: Run | str | os.PathLike[str],
    split: str = "test",
    method: str | None = None,
    *,
    masks: str | os.PathLike[str] | None = None,
    batch_size: int = compute.DEFAULT_BATCH,
    data_root: str | os.PathLike[str] | None = None,
    progress: compute.Progress | None = None,
    force: bool = False,
) -> AtlasData:
    """Compute (or reuse, or continue) the atlas of one split of a run.

    Args:
        run: a :class:`~cvd_explorer.runs.Run` or a run directory.
        split: "test" (default; out-of-sample, what cleanlab needs), "val" or "train".
        method: a CAM method computed for every layer in one pass (default: Grad-CAM).
        masks: folder of PNG object masks at the images' relative paths (default: the synthetic
            data's ``DATA/_masks`` when present).
        batch_size: images per engine pass.
        data_root: where the images are, if not where the run recorded them.
        progress: ``progress(done, total)`` after each batch.
        force: recompute even when a complete, current atlas exists.

    Returns:
        The finished :class:`AtlasData` (also written to ``RUN/atlas/<split>-<method>/``).

    Raises:
        RunError, DataError, ExplainError: no model, unknown split or method, bad masks folder.
    """
    from cvd_explorer.atlas.methods import atlas_method
    from cvd_explorer.runs import Run

    if not isinstance(run, Run):
        run = Run(run, data_root=data_root)
    elif data_root is not None:
        run = Run(run.path, data_root=data_root)
    method = atlas_method(method)
    if int(batch_size) < 1:
        raise RunError(f"--batch-size must be at least 1, got {batch_size}")
    rows = compute.check_split(run, split)
    mask_dir = store.masks_folder(run, masks)
    key = store.atlas_key(run, split, method, mask_dir)
    folder = store.atlas_dir(run.path, split, method)
    index = store.read_index(folder)
    if store.is_current(index, key) and not force:
        if index is not None and index.get("state") == "complete":
            return load_atlas(folder)
    else:
        store.reset(folder)
        index = None
    folder.mkdir(parents=True, exist_ok=True)
    previous = float(index.get("seconds", 0.0)) if index else 0.0
    recorded = (index or {}).get("layers")
    store.write_json(folder / store.INDEX, _index(key, "partial", len(rows), previous))

    covered: set[int] = set()
    for _, chunk in store.iter_chunks(folder):
        covered.update(int(i) for i in chunk.indices)
        covered.update(int(i) for i in chunk.failed)
    todo = compute.todo_indices(len(rows), covered)
    labels = np.asarray([run.manifest.label_index(r.label) for r in rows], np.int64)
    started = time.perf_counter()
    if todo or not recorded:
        from cvd_explorer.models import block_outputs, conv_layers

        model = run.load_model()
        layers, blocks = conv_layers(model), block_outputs(model)
        if not layers:
            raise RunError(f"{run.path}: the model has no Conv2D layer to explain")
        store.write_json(folder / store.INDEX, _index(key, "partial", len(rows), previous, layers, blocks))
        spec = compute.PassSpec(
            root=Path(run.data_root), paths=[r.path for r in rows], labels=labels, classes=tuple(run.classes),
            layers=tuple(layers), blocks=tuple(blocks), method=method, size=key.image_size, mask_dir=mask_dir,
            batch_size=int(batch_size),
        )
        compute.stream(model, spec, todo, compute.store_chunk(folder), progress=progress, done=len(covered))
    else:
        layers, blocks = list(recorded), list((index or {}).get("blocks") or [])
    seconds = previous + time.perf_counter() - started
    store.write_json(folder / store.INDEX, _index(key, "partial", len(rows), seconds, layers, blocks))
    finish(run, folder, rows, labels, layers, blocks, key, seconds)
    return load_atlas(folder)


def _index(
    key: store.AtlasKey, state: str, images: int, seconds: float,
    layers: Sequence[str] | None = None, blocks: Sequence[str] | None = None,
) -> dict[str, Any]:
    index: dict[str, Any] = {
        "schema_version": store.SCHEMA_VERSION, "key": key.to_json(), "state": state, "split_images": images,
        "seconds": round(seconds, 3), "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if layers is not None:
        index["layers"] = list(layers)
        index["blocks"] = list(blocks or [])
    return index
