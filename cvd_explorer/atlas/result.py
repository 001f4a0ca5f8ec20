"""Reading a finished atlas: :class:`AtlasData` for the panel, the report and the CLI."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.atlas import store
from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.atlas.schema import AtlasRow
from cvd_explorer.atlas.similar import centroid, nearest, nearest_to, unit_rows
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
        float16 deepest-layer maps with peak 1, ``logits`` (N,) for two classes or (N, K), ``has_mask`` (N,)
        bool, and for K > 2 classes ``probs`` (N, K) float32 (see :attr:`probs`)."""
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

    @property
    def classes(self) -> list[str]:
        """The run's classes in index order (from ``summary["confusion"]``; empty for an atlas written before it)."""
        return list((self.summary.get("confusion") or {}).get("classes") or [])

    @property
    def confusion(self) -> np.ndarray | None:
        """int64 ``(K, K)`` counts, row = true class, column = predicted class; None for an older atlas."""
        found = self.summary.get("confusion")
        return None if not found else np.asarray(found["matrix"], np.int64)

    @cached_property
    def probs(self) -> np.ndarray:
        """float32 ``(N, K)`` class probabilities in class order: stored for K > 2 classes, derived from the
        logits (sigmoid) for two."""
        arrays = self.arrays
        if "probs" in arrays:
            return np.asarray(arrays["probs"], np.float32)
        from cvd_explorer.atlas.outcomes import class_probabilities

        return class_probabilities(arrays["logits"]).astype(np.float32)

    @property
    def slices(self) -> list[dict[str, Any]]:
        """``summary["slices"]``: the underperforming slices, best first (:mod:`cvd_explorer.atlas.slices`);
        empty for an atlas written before them."""
        return list(self.summary.get("slices") or [])

    @property
    def issues(self) -> dict[str, Any]:
        """``summary["issues"]``: ``{type: {"count", "paths", "scores"}}`` for outliers, near-duplicates and
        non-IID (:mod:`cvd_explorer.atlas.data_issues`); empty for an atlas written before them."""
        return dict(self.summary.get("issues") or {})

    @cached_property
    def _slice_maps(self) -> np.ndarray:
        path = self.folder / store.SLICES
        if not path.is_file():
            raise RunError(f"{self.folder} has no {store.SLICES} (written before slices existed); compute the "
                           "atlas again (`cvd-explorer atlas RUN --force`)")
        return store.read_npz(path)["maps"]

    def slice_maps(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Slice ``index``'s mean unit-mass deepest-layer map ``(h, w)`` and the reference map: the correct
        images of its most common true class outside it.

        Raises:
            RunError: no such slice, or an atlas without ``slices.npz``.
        """
        n = len(self.slices)
        if not 0 <= int(index) < n:
            raise RunError(f"slice {index} does not exist: the atlas has {n} slices (0..{n - 1})" if n
                           else f"slice {index} does not exist: the atlas found no slices")
        maps = self._slice_maps
        return maps[int(index), 0], maps[int(index), 1]

    @cached_property
    def _unit_features(self) -> np.ndarray:
        """The pooled features as float32 unit rows ``(N, D)``, made on the first similarity query."""
        return unit_rows(self.arrays["features"])

    @cached_property
    def _row_of_path(self) -> dict[str, int]:
        return {row.path: i for i, row in enumerate(self.rows)}

    def similar(self, paths: str | Sequence[str], k: int = 10, source: AtlasData | None = None
                ) -> list[tuple[str, float]]:
        """The ``k`` images of this atlas nearest by cosine distance on the pooled features, nearest first, as
        ``(path, distance)``. One path queries with that image, several with their centroid (an atlas
        selection); the query images are left out of the answer.

        ``source``: the atlas the query paths belong to, when it is another one: a train-split atlas
        searched from test images answers "which training images taught it this".

        Raises:
            RunError: a path that is not in the query's atlas (named), no path at all, or a source atlas
                of another feature size.
        """
        origin = self if source is None else source
        wanted = [paths] if isinstance(paths, str) else list(paths)
        unknown = [p for p in wanted if p not in origin._row_of_path]
        if unknown:
            raise RunError(f"not in the {origin.split} atlas: {', '.join(unknown[:3])}"
                           + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""))
        if not wanted:
            raise RunError("a similarity query needs at least one image path")
        rows = [origin._row_of_path[p] for p in wanted]
        if origin is self:
            found = nearest(self._unit_features, rows, k)
        else:
            direction = centroid(origin._unit_features[rows])
            if direction.shape[0] != self._unit_features.shape[1]:
                raise RunError(f"the {origin.split} atlas has {direction.shape[0]} features per image and the "
                               f"{self.split} atlas {self._unit_features.shape[1]}: atlases of one run only")
            found = nearest_to(self._unit_features, direction, k)
        pairs = zip(found.indices.tolist(), found.distances.tolist(), strict=True)
        return [(self.rows[i].path, float(d)) for i, d in pairs]


def load_atlas(folder: str | os.PathLike[str]) -> AtlasData:
    """A complete atlas folder; RunError when it is missing, partial or damaged."""
    folder = Path(folder)
    index = store.read_index(folder)
    if index is None or index.get("state") != "complete":
        state = "missing" if index is None else str(index.get("state"))
        raise RunError(f"{folder}: the atlas is {state}; compute it with `cvd-explorer atlas RUN`")
    missing = [name for name in store.REQUIRED_FILES if not (folder / name).is_file()]
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
    from cvd_explorer.atlas.methods import method_name

    method = method_name(method)  # no TensorFlow import: opening a panel on an atlas stays light
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
