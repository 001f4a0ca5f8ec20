"""From the streamed chunks to the finished atlas files: predictions, embedding, label issues,
depth curves, mean maps, leakage, slices and data issues (:mod:`cvd_explorer.atlas.findings`), and the
summary object of ``cvd-explorer atlas --json``.

Two classes (one sigmoid unit) and K > 2 classes (softmax) go through the same steps
(:mod:`cvd_explorer.atlas.outcomes`); the binary files are exactly what they always were.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.atlas import depth, embed, mapstats, store
from cvd_explorer.atlas import labels as label_issues
from cvd_explorer.atlas.findings import SLICE_MAPS, findings
from cvd_explorer.atlas.outcomes import confusion, outcomes
from cvd_explorer.atlas.schema import AtlasRow, Chunk, group_names, groups
from cvd_explorer.fileio import write_csv

if TYPE_CHECKING:
    from cvd_explorer.data.duplicates import DuplicateGroup
    from cvd_explorer.data.split import ManifestRow
    from cvd_explorer.runs import Run

EXPLAINED = "predicted class"
"""The target of every map of the atlas: each image's predicted class (the engine's default)."""


def gather(folder: Path, n_layers: int, n_blocks: int, n_groups: int) -> Chunk:
    """Every chunk of ``folder`` joined, rows in split order (:meth:`Chunk.join`)."""
    return Chunk.join((chunk for _, chunk in store.iter_chunks(folder)), n_layers, n_blocks, n_groups)


def finish(
    run: Run, folder: Path, rows: Sequence[ManifestRow], labels_all: np.ndarray, layers: Sequence[str],
    blocks: Sequence[str], key: store.AtlasKey, seconds: float,
) -> dict[str, Any]:
    """Write the finished files and mark the atlas complete; returns the summary object."""
    classes = tuple(run.classes)
    data = gather(folder, len(layers), len(blocks), len(groups(classes)))
    idx = data.indices
    if len(idx) == 0:
        from cvd_explorer.errors import DataError

        raise DataError(
            f"no image of the {key.split!r} split could be loaded from {run.data_root} "
            f"({len(data.failed)} failed, e.g. {list(data.failed_reason[:1])}); pass --data-root where the images are"
        )
    paths = [rows[i].path for i in idx]
    copy_groups, elsewhere, leak, duplicate_rows = copies(run, paths)
    y = labels_all[idx]
    logits = data.logits.astype(np.float64)
    said = outcomes(logits, y)
    predicted, correct, loss, p = said.predicted, said.correct, said.loss, said.p
    coords = embed.embed(data.features)
    issues = label_issues.find_label_issues(y, p if logits.ndim == 1 else said.probs)
    suspect = np.zeros(len(idx), bool)
    suspect[issues.suspects] = True

    image_rows = [
        AtlasRow(path=paths[k], label=classes[int(y[k])], prediction=classes[int(predicted[k])], p=float(p[k]),
                 loss=float(loss[k]), correct=bool(correct[k]), x=float(coords[k, 0]), y=float(coords[k, 1]),
                 group=copy_groups[k], copy_elsewhere=bool(elsewhere[k]), label_score=float(issues.scores[k]),
                 suspect=bool(suspect[k]))
        for k in range(len(idx))
    ]
    store.write_rows(folder / store.IMAGES, image_rows)
    arrays = {"features": data.features.astype(np.float16), "embedding": coords, "thumbs": data.thumbs,
              "logits": logits.astype(np.float32), "has_mask": data.has_mask}
    if logits.ndim == 2:  # K > 2 classes: the softmax probabilities beside the logits (binary files unchanged)
        arrays["probs"] = said.probs.astype(np.float32)
    store.write_npz(folder / store.ARRAYS, arrays)
    stats = {m: data.stats[m].astype(np.float32) for m in mapstats.STATISTICS}
    store.write_npz(folder / store.LAYER_STATS, {**stats, "layers": np.asarray(layers, dtype=str)})
    means = _mean_maps(data.block_sums, data.block_counts)
    store.write_npz(folder / store.MEAN_CAMS, {
        "maps": means, "counts": data.block_counts, "blocks": np.asarray(blocks, dtype=str),
        "groups": np.asarray(group_names(classes), dtype=str),
    })
    suspects = label_issues.issue_rows(issues, paths, y, classes)
    write_csv(folder / store.LABEL_ISSUES, ("path", "label", "suggested", "score"),
               [[r["path"], r["label"], r["suggested"], r["score"]] for r in suspects])
    with_masks = bool(data.has_mask.any())
    summary: dict[str, Any] = {
        "images": int(len(idx)),
        "split": key.split,
        "method": key.method,
        "layers": list(layers),
        "blocks": list(blocks),
        "seconds": round(float(seconds), 3),
        "explained": EXPLAINED,
        "accuracy": float(correct.mean()),
        "misclassified": int((~correct).sum()),
        "images_with_mask": int(data.has_mask.sum()),
        "skipped": [{"path": rows[int(i)].path, "reason": str(r)}
                    for i, r in zip(data.failed, data.failed_reason, strict=True)],
        "suspected_label_errors": suspects,
        "confusion": confusion(classes, y, predicted),
        "depth": depth.depth_curves(layers, stats, correct, y, classes, with_masks=with_masks).to_json(),
        "leakage": leak,
        "duplicates": duplicate_rows,
        "notes": notes(key.split, with_masks, len(classes)),
    }
    found = findings(data.features, y, correct, said.probs, classes, image_rows, data.thumbs,
                     mask_mass=stats["mass_in_mask"][:, -1] if with_masks else None)
    store.write_npz(folder / SLICE_MAPS, {"maps": found.maps})
    summary["slices"], summary["issues"] = found.slices, found.issues
    store.write_json(folder / store.SUMMARY, summary)
    index = store.read_index(folder) or {}
    index.update(state="complete", images=summary["images"], seconds=summary["seconds"], layers=list(layers),
                 blocks=list(blocks), key=key.to_json())
    store.write_json(folder / store.INDEX, index)
    return summary


def notes(split: str, with_masks: bool, n_classes: int = 2) -> list[str]:
    """What a reader of the atlas must know to read it right."""
    out = [
        embed.EMBEDDING_NOTE,
        f"map statistics on maps resized to {mapstats.STAT_SIZE}x{mapstats.STAT_SIZE} after the ReLU; "
        "mean maps average unit-mass maps (each map divided by its sum), so every image weighs the same",
    ]
    if n_classes > 2:
        out.append(f"{n_classes} classes: every map explains the image's predicted class; p in images.csv is the "
                   "predicted class's probability (all of them: probs in arrays.npz)")
    if split != "test":
        out.append(label_issues.IN_SAMPLE_WARNING if split == "train" else
                   "validation predictions chose the best checkpoint, so they are not fully out of sample")
    if not with_masks:
        out.append("no object masks: mass_in_mask and pointing_game are absent (pass --masks DIR)")
    return out


def duplicate_groups(run: Run) -> tuple[list[DuplicateGroup], str]:
    """The data's duplicate groups and where they came from.

    From the scan of the run's data root (cached after ``cvd-explorer scan``, so usually instant);
    when the images cannot be scanned, from the manifest's ``group`` column.

    Returns:
        ``(groups, source)``: :class:`~cvd_explorer.data.duplicates.DuplicateGroup` list and ``"scan"`` or
        ``"manifest"``.
    """
    from cvd_explorer.data.duplicates import DuplicateGroup
    from cvd_explorer.errors import CvdError

    try:
        from cvd_explorer.data.scan import scan

        return list(scan(run.data_root).duplicates), "scan"
    except (CvdError, OSError):
        members: dict[str, list[str]] = {}
        for row in run.manifest.rows:
            if row.group:
                members.setdefault(row.group, []).append(row.path)
        groups = [DuplicateGroup("near", tuple(sorted(p)), float("nan")) for p in members.values() if len(p) > 1]
        return groups, "manifest"


def copies(run: Run, paths: Sequence[str]) -> tuple[list[str], list[bool], dict[str, Any], list[dict[str, Any]]]:
    """Duplicate groups of the split's images and the leakage of the run's manifest.

    Returns:
        ``(group per image ("" or "d<k>"), copy_elsewhere per image, leakage JSON, groups touching the images
        as JSON rows with the split of every path)``.
    """
    from cvd_explorer.data.leakage import leakage as leakage_of

    found, source = duplicate_groups(run)
    split_of = {row.path: row.split for row in run.manifest.rows}
    group_of: dict[str, int] = {}
    for k, group in enumerate(found):
        for p in group.paths:
            group_of[p] = k
    spans = [len({split_of[p] for p in g.paths if p in split_of}) > 1 for g in found]
    names = [f"d{group_of[p]}" if p in group_of else "" for p in paths]
    elsewhere = [bool(p in group_of and spans[group_of[p]]) for p in paths]
    touched = sorted({group_of[p] for p in paths if p in group_of})
    rows = [{**found[k].to_json(), "splits": [split_of.get(p) for p in found[k].paths], "group": f"d{k}"}
            for k in touched]
    report = leakage_of(run.manifest, found)
    out = {
        "test_images_with_copy_elsewhere": report.test_images_with_copy_elsewhere,
        "val_images_with_copy_in_train": report.val_images_with_copy_in_train,
        "groups_across_splits": len(report.groups_across_splits),
        "source": source,
    }
    return names, elsewhere, out, rows


def _mean_maps(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean unit-mass maps ``(B, G, S, S)`` float32; zeros for an empty group."""
    c = counts[..., None, None].astype(np.float64)
    return np.where(c > 0, sums / np.where(c > 0, c, 1), 0).astype(np.float32)
