"""Reading a finished atlas: :class:`AtlasData` for the panel, the report and the CLI."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.atlas import store
from cvd_explorer.errors import RunError


@dataclass(frozen=True)
class AtlasRow:
    """One image of the atlas (a row of ``images.csv``).

    ``group`` names the image's duplicate group (``"d<k>"``, "" without copies); ``copy_elsewhere`` says
    that a copy of it lies in another split (leakage); ``label_score`` is cleanlab's label quality (lower
    is more suspicious) and ``suspect`` whether cleanlab lists it as a likely label error.
    """

    path: str
    label: str
    prediction: str
    p: float
    loss: float
    correct: bool
    x: float
    y: float
    group: str
    copy_elsewhere: bool
    label_score: float
    suspect: bool


@dataclass(eq=False)
class AtlasData:
    """A finished atlas folder, read lazily (arrays load on first use).

    Attributes:
        folder: ``RUN/atlas/<split>-<method>``.
        summary: the ``summary.json`` object (what ``cvd-explorer atlas --json`` prints).
    """

    folder: Path
    summary: dict[str, Any] = field(repr=False)

    @property
    def split(self) -> str:
        """The split the atlas covers."""
        return str(self.summary["split"])

    @property
    def method(self) -> str:
        """The CAM method of its maps."""
        return str(self.summary["method"])

    @property
    def layers(self) -> list[str]:
        """Conv layers in depth order, the deepest last."""
        return list(self.summary["layers"])

    @cached_property
    def rows(self) -> list[AtlasRow]:
        """Every image, in the manifest's order of the split (images that failed to load excluded)."""
        with open(self.folder / store.IMAGES, newline="", encoding="utf-8") as fh:
            return [
                AtlasRow(r["path"], r["label"], r["prediction"], float(r["p"]), float(r["loss"]), r["correct"] == "1",
                         float(r["x"]), float(r["y"]), r["group"], r["copy_elsewhere"] == "1", float(r["label_score"]),
                         r["suspect"] == "1")
                for r in csv.DictReader(fh)
            ]

    @cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        """``features`` (N, D) float16, ``embedding`` (N, 2) float32 in [0, 1], ``thumbs`` (N, 32, 32)
        float16 deepest-layer maps with peak 1, ``logits`` (N,), ``has_mask`` (N,) bool."""
        return store.read_npz(self.folder / store.ARRAYS)

    @cached_property
    def layer_stats(self) -> dict[str, np.ndarray]:
        """``{statistic: (N, L) float32}`` (NaN where undefined); see :mod:`cvd_explorer.atlas.mapstats`."""
        data = store.read_npz(self.folder / store.LAYER_STATS)
        data.pop("layers", None)
        return data

    @cached_property
    def mean_cams(self) -> dict[str, Any]:
        """``{"maps": (B, 4, 32, 32), "counts": (B, 4), "blocks": [B names], "groups": [4 names]}``."""
        data = store.read_npz(self.folder / store.MEAN_CAMS)
        return {"maps": data["maps"], "counts": data["counts"], "blocks": [str(b) for b in data["blocks"]],
                "groups": [str(g) for g in data["groups"]]}

    def mean_cam(self, block: str, group: str) -> tuple[np.ndarray, int]:
        """The mean unit-mass map ``(32, 32)`` of one block output and group (e.g. ``"cat/misclassified"``)
        with the number of images averaged."""
        means = self.mean_cams
        if block not in means["blocks"]:
            raise RunError(f"the atlas has no block output {block!r}; blocks: {', '.join(means['blocks'])}")
        if group not in means["groups"]:
            raise RunError(f"unknown group {group!r}; groups: {', '.join(means['groups'])}")
        b, g = means["blocks"].index(block), means["groups"].index(group)
        return means["maps"][b, g], int(means["counts"][b, g])


def load_atlas(folder: str | os.PathLike[str]) -> AtlasData:
    """A complete atlas folder; RunError when it is missing, partial or damaged."""
    folder = Path(folder)
    index = store.read_index(folder)
    if index is None or index.get("state") != "complete":
        state = "missing" if index is None else str(index.get("state"))
        raise RunError(f"{folder}: the atlas is {state}; compute it with `cvd-explorer atlas RUN`")
    missing = [name for name in store.FINISHED_FILES if not (folder / name).is_file()]
    if missing:
        raise RunError(
            f"{folder} lacks {', '.join(missing)}; compute the atlas again (`cvd-explorer atlas RUN --force`)"
        )
    summary = store.read_json(folder / store.SUMMARY)
    return AtlasData(folder, summary)


def find_atlas(run: Any, split: str = "test", method: str | None = None) -> AtlasData | None:
    """The run's current atlas of ``split`` (and ``method``, default Grad-CAM), or None when there is
    none or it is stale (computed for another model or manifest)."""
    from cvd_explorer.atlas.methods import atlas_method

    method = atlas_method(method)
    folder = store.atlas_dir(run.path, split, method)
    index = store.read_index(folder)
    if index is None or index.get("state") != "complete":
        return None
    key = index.get("key") or {}
    info = run.model_info or {}
    if key.get("model_sha256") != info.get("sha256"):
        return None
    if key.get("manifest_sha256") != run.meta.get("manifest", {}).get("sha256"):
        return None
    try:
        return load_atlas(folder)
    except RunError:
        return None
