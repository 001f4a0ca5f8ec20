"""The atlas: a whole split explained at once (per-image rows, depth curves, label issues, embedding).

Public API:
    compute_atlas(run, split="test", method=None, masks=None, batch_size=8) -> AtlasData
    load_atlas(folder) -> AtlasData; find_atlas(run, split, method, masks) -> AtlasData | None
    AtlasRow (a row of images.csv), DepthCurves (summary["depth"], typed)
    AtlasData.similar(paths, k, source=None), .slices, .slice_maps(i), .issues, .probs, .confusion
Any number of classes: a one-unit sigmoid head (two classes) or a K-unit softmax head; the maps explain
each image's predicted class.
Computation only: no widgets. The folder layout is in docs/run-directory.md; the record types are
:mod:`cvd_explorer.atlas.schema` and :mod:`cvd_explorer.atlas.curves`.
"""

from __future__ import annotations

from cvd_explorer._lazy import lazy_attributes

_LAZY = {
    "compute_atlas": "cvd_explorer.atlas.build",
    "AtlasData": "cvd_explorer.atlas.result",
    "AtlasRow": "cvd_explorer.atlas.schema",
    "DepthCurves": "cvd_explorer.atlas.curves",
    "load_atlas": "cvd_explorer.atlas.result",
    "find_atlas": "cvd_explorer.atlas.result",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, {"compute_atlas"})
