"""Reading a finished atlas: :class:`AtlasData` for the panel, the report and the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.atlas import store
from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.atlas.schema import AtlasRow
from cvd_explorer.errors import RunError

if TYPE_CHECKING:
    from cvd_explorer.runs import Run


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
    def depth(self) -> DepthCurves:
        """The depth curves (``summary["depth"]``, typed)."""
        return DepthCurves.from_json(self.summary.get("depth") or {})

    @cached_property
    def rows(self) -> list[AtlasRow]:
        """Every image, in the manifest's order of the split (images that failed to load excluded)."""
        return store.read_rows(self.folder / store.IMAGES)

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
        """``{"maps": (B, G, 32, 32), "counts": (B, G), "blocks": [B names], "groups": [G names]}`` with the G
        groups of :func:`~cvd_explorer.atlas.schema.groups`."""
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


def find_atlas(
    run: Run, split: str = "test", method: str | None = None, masks: str | os.PathLike[str] | None = None
) -> AtlasData | None:
    """The run's current atlas of ``split`` (``method``: default Grad-CAM; ``masks``: default the
    synthetic data's masks when present, as :func:`~cvd_explorer.atlas.compute_atlas`), or None when
    there is none, it is partial, or it is not current (:func:`~cvd_explorer.atlas.store.is_current`:
    another schema version, model, manifest, masks or size)."""
    from cvd_explorer.atlas.methods import atlas_method

    method = atlas_method(method)
    folder = store.atlas_dir(run.path, split, method)
    index = store.read_index(folder)
    if index is None or index.get("state") != "complete":
        return None
    try:
        key = store.atlas_key(run, split, method, store.masks_folder(run, masks))
    except RunError:  # no model: nothing is current
        return None
    if not store.is_current(index, key):
        return None
    try:
        return load_atlas(folder)
    except RunError:
        return None
