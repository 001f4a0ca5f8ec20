"""``compute_atlas``: the split-wide pass over a run, resumable, tied to its model and manifest."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.atlas import compute, store
from cvd_explorer.atlas.finish import finish
from cvd_explorer.atlas.mapstats import STAT_SIZE
from cvd_explorer.atlas.result import AtlasData, load_atlas
from cvd_explorer.errors import RunError


def atlas_key(run: Any, split: str, method: str, mask_dir: Path | None, image_size: int) -> dict[str, Any]:
    """What an atlas depends on: a change to any of these makes it stale."""
    info = run.model_info
    if info is None or not (run.path / "model.keras").is_file():
        raise RunError(f"{run.path} has no model yet: train the run (or wait for its first epoch) before the atlas")
    return {
        "split": split,
        "method": method,
        "model_sha256": info.get("sha256"),
        "manifest_sha256": run.meta.get("manifest", {}).get("sha256"),
        "masks": str(mask_dir) if mask_dir is not None else None,
        "image_size": int(image_size),
        "stat_size": STAT_SIZE,
    }


def compute_atlas(
    run: Any,
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
    mask_dir = compute.masks_folder(run, masks)
    image_size = int(run.config.image_size)
    key = atlas_key(run, split, method, mask_dir, image_size)
    folder = store.atlas_dir(run.path, split, method)
    index = store.read_index(folder)
    if store.matches(index, key) and not force:
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
        covered.update(int(i) for i in chunk["indices"])
        covered.update(int(i) for i in chunk["failed"])
    todo = compute.todo_indices(len(rows), covered)
    paths = [r.path for r in rows]
    labels = np.asarray([run.manifest.label_index(r.label) for r in rows], np.int64)
    started = time.perf_counter()
    if todo or not recorded:
        from cvd_explorer.models import block_outputs, conv_layers

        model = run.load_model()
        layers, blocks = conv_layers(model), block_outputs(model)
        if not layers:
            raise RunError(f"{run.path}: the model has no Conv2D layer to explain")
        store.write_json(folder / store.INDEX, _index(key, "partial", len(rows), previous, layers, blocks))
        compute.stream(
            model, Path(run.data_root), paths, labels, todo, size=image_size, method=method, layers=layers,
            blocks=blocks, mask_dir=mask_dir, batch_size=int(batch_size), write=compute.store_chunk(folder),
            progress=progress, done=len(covered),
        )
    else:
        layers, blocks = list(recorded), list((index or {}).get("blocks") or [])
    seconds = previous + time.perf_counter() - started
    store.write_json(folder / store.INDEX, _index(key, "partial", len(rows), seconds, layers, blocks))
    finish(run, folder, rows, labels, layers, blocks, key, seconds)
    return load_atlas(folder)


def _index(
    key: dict[str, Any], state: str, images: int, seconds: float,
    layers: Sequence[str] | None = None, blocks: Sequence[str] | None = None,
) -> dict[str, Any]:
    index: dict[str, Any] = {
        "schema_version": store.SCHEMA_VERSION, "key": key, "state": state, "split_images": images,
        "seconds": round(seconds, 3), "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if layers is not None:
        index["layers"] = list(layers)
        index["blocks"] = list(blocks or [])
    return index
