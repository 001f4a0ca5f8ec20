"""The report's slice table: the atlas's underperforming slices (``summary["slices"]``, best first) as a
table of their numbers and a figure with one row per slice: a strip of its images, then its mean
deepest-layer map beside that of the correct images of the same class (``slices.npz``).

Absent when the atlas has no ``"slices"`` (an atlas computed before slices existed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.report.blocks import Block, Cell, Figure, Table, Text

SLICE_MAPS = "slices.npz"  # as cvd_explorer.atlas.findings writes it
MAX_SLICES = 8  # rows of the table and the figure
THUMBS = 5  # images per slice in the strip
THUMB_PX = 96


def slice_maps(folder: Path) -> np.ndarray | None:
    """float32 ``(S, 2, h, w)`` from ``folder/slices.npz`` (its ``maps`` array, or its only one); None when
    the file is absent."""
    from cvd_explorer.atlas import store

    path = folder / SLICE_MAPS
    if not path.is_file():
        return None
    arrays = store.read_npz(path)
    maps = arrays["maps"] if "maps" in arrays else next(iter(arrays.values())) if len(arrays) == 1 else None
    if maps is None or maps.ndim != 4 or maps.shape[1] != 2:
        shapes = {k: v.shape for k, v in arrays.items()}
        raise ValueError(f"{path}: expected one (S, 2, h, w) array 'maps', found {shapes}; "
                         "compute the atlas again (`cvd-explorer atlas RUN --force`)")
    return np.asarray(maps, np.float32)


def _classes_text(classes: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {int(n)}" for name, n in sorted(classes.items(), key=lambda kv: -int(kv[1])))


def slice_table(slices: Sequence[Mapping[str, Any]], slug: str) -> Table:
    """Rank, size, error rate with its 95% interval against the overall rate, q-value and classes per slice."""
    rows = []
    for s in slices:
        low, high = (float(v) for v in s["interval"])
        rows.append([
            Cell(f"slice {s['id']}"), Cell(str(int(s["size"])), int(s["size"])),
            Cell(f"{float(s['error_rate']):.1%}", float(s["error_rate"])),
            Cell(f"{low:.1%}", low), Cell(f"{high:.1%}", high),
            Cell(f"{float(s['overall_error_rate']):.1%}", float(s["overall_error_rate"])),
            Cell(f"{float(s['q_value']):.2g}", float(s["q_value"])),
            Cell(_classes_text(s.get("classes") or {})),
        ])
    return Table(
        f"atlas-slices-{slug}", "Underperforming slices",
        ["slice", "images", "error rate", "95% low", "95% high", "overall error rate", "q-value", "true classes"], rows,
        "Groups of similar test images (clusters of the features the head sees) where the model errs more often than "
        "overall, best first: one-sided binomial test against the overall error rate, q-values corrected for every "
        "group tested (Benjamini-Hochberg). A slice with a small q-value and an interval well above the overall rate "
        "is a group the model systematically fails on: look at its images and mean map below.",
    )


def _map_picture(values: np.ndarray, peak: float) -> np.ndarray:
    """A mean map as a jet RGB uint8 picture, scaled by ``peak`` (shared by the slice's two maps)."""
    from PIL import Image

    from cvd_explorer.render import apply_colormap

    scaled = values / peak if peak > 0 else np.zeros_like(values)
    rgb = apply_colormap(scaled)
    return np.asarray(Image.fromarray(rgb).resize((THUMB_PX, THUMB_PX), Image.Resampling.BILINEAR))


def _thumb(path: Path) -> np.ndarray:
    from cvd_explorer.data.loader import load_image

    try:
        return load_image(path, size=(THUMB_PX, THUMB_PX))
    except Exception:  # a moved or broken image: a grey tile, the title still names it
        return np.full((THUMB_PX, THUMB_PX, 3), 200, np.uint8)


def slice_figure(slices: Sequence[Mapping[str, Any]], maps: np.ndarray | None, image_path: Callable[[str], Path],
                 outcome: Mapping[str, tuple[str, bool]], slug: str) -> Figure:
    """One row per slice: up to :data:`THUMBS` of its images (misclassified first), then its two mean maps.

    Args:
        maps: ``(S, 2, h, w)`` in the order of the summary's slices, or None (no maps: images only).
        image_path: absolute path of a manifest path.
        outcome: ``{path: (prediction, correct)}`` of the atlas rows.
    """
    from cvd_explorer.report import figures

    rows = []
    for k, s in enumerate(slices):
        members = sorted(s["paths"], key=lambda p: (outcome.get(p, ("", True))[1], p))[:THUMBS]
        cells = []
        for p in members:
            prediction, correct = outcome.get(p, ("?", True))
            cells.append((_thumb(image_path(p)), f"{Path(p).name}\n→ {prediction} {'✓' if correct else '✗'}"))
        if maps is not None and k < len(maps):
            pair = maps[k]
            peak = float(np.max(pair)) if pair.size else 0.0
            cells += [(_map_picture(pair[0], peak), "slice's mean map"),
                      (_map_picture(pair[1], peak), "correct, same class")]
        label = f"slice {s['id']}\n{float(s['error_rate']):.0%} wrong\nof {int(s['size'])}"
        rows.append((label, cells))
    maps_note = ("; then the slice's mean unit-mass map at the deepest conv layer beside that of the correct "
                 "images of its most common true class outside it (one colour scale per row, red = more)"
                 if maps is not None else "")
    return Figure(
        f"atlas-slices-maps-{slug}", "Underperforming slices: images and mean maps",
        f"Per slice (rows in the table's order): up to {THUMBS} of its images, misclassified first, each titled with "
        f"the model's prediction{maps_note}. Look for what the slice's images share (a background, a mark, a pose) "
        "and whether the model looks somewhere else there than on correct images of the class.",
        figures.labelled_rows(rows),
    )


def slice_blocks(summary: Mapping[str, Any], folder: Path, image_path: Callable[[str], Path],
                 outcome: Mapping[str, tuple[str, bool]], slug: str) -> list[Block]:
    """The slice table and figure of one atlas; [] when its summary has no ``"slices"``, a note when the list is
    empty.

    Args:
        summary: the atlas's ``summary.json`` object; folder: the atlas folder (for ``slices.npz``).
        image_path, outcome: as :func:`slice_figure`.
    """
    if "slices" not in summary:
        return []
    slices = list(summary["slices"])[:MAX_SLICES]
    if not slices:
        return [Text("No underperforming slice: no group of similar images where the model errs clearly more "
                     "often than overall.", "empty", f"atlas-slices-{slug}")]
    maps = slice_maps(folder)
    return [slice_table(slices, slug), slice_figure(slices, maps, image_path, outcome, slug)]
