"""The atlas' dataset-level findings, made once when an atlas is finished: the underperforming slices
(:mod:`cvd_explorer.atlas.slices`) with their mean maps, and the data issues beyond label errors
(:mod:`cvd_explorer.atlas.data_issues`). ``summary.json`` gains ``"slices"`` and ``"issues"``;
``slices.npz`` holds each slice's two mean maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvd_explorer.atlas import store
from cvd_explorer.atlas.data_issues import find_data_issues
from cvd_explorer.atlas.embed import SEED, reduce
from cvd_explorer.atlas.schema import AtlasRow
from cvd_explorer.atlas.similar import unit_rows
from cvd_explorer.atlas.slices import find_slices, slice_maps

SLICE_MAPS = store.SLICES


@dataclass(frozen=True)
class Findings:
    """What :func:`findings` found.

    Attributes:
        slices: the ``summary["slices"]`` list, best first; issues: ``summary["issues"]``.
        maps: float32 ``(S, 2, h, w)``: per slice, its mean unit-mass deepest map and that of the correct
            images of its most common true class outside it.
    """

    slices: list[dict[str, Any]]
    issues: dict[str, Any]
    maps: np.ndarray


def findings(features: np.ndarray, labels: np.ndarray, correct: np.ndarray, probs: np.ndarray,
             classes: Sequence[str], rows: Sequence[AtlasRow], thumbs: np.ndarray,
             mask_mass: np.ndarray | None = None) -> Findings:
    """Slices and data issues of one split.

    Args:
        features: ``(N, D)`` pooled features; labels: int ``(N,)``; correct: bool ``(N,)``;
        probs: ``(N, K)``; rows: the ``(N,)`` rows of ``images.csv`` (paths and scan duplicate groups);
        thumbs: ``(N, h, w)`` deepest-layer maps;
        mask_mass: ``(N,)`` deepest map's mass inside the mask, NaN without a mask (or None).
    """
    paths = [row.path for row in rows]
    components = reduce(unit_rows(features), SEED)  # once for both: the slices cluster them, Datalab reads them
    found = find_slices(features, labels, correct, classes, mask_mass=mask_mass, components=components)
    maps = (np.stack([slice_maps(thumbs, s, labels, correct) for s in found]) if found
            else np.zeros((0, 2, *np.asarray(thumbs).shape[1:]), np.float32))
    issues = find_data_issues(features, labels, probs, classes, [row.group for row in rows], components)
    return Findings([s.to_json(paths) for s in found], {k: v.to_json(paths) for k, v in issues.items()}, maps)
