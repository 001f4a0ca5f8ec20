"""Statistics of one image's maps across depth, computed on a common small grid.

Every map is ReLU'd and bilinearly resized to ``STAT_SIZE x STAT_SIZE`` first, so layers of every
resolution are measured alike. All statistics are invariant to the map's scale, so no
normalisation is needed per image; averages over images (:mod:`cvd_explorer.atlas.depth`) are
therefore averages of comparable numbers. An all-zero map (no positive evidence for the target at
that layer) has no value: NaN here, ``null`` in JSON.

Statistics (per image and layer):
    agreement: Pearson correlation with the deepest conv layer's map (1 for the deepest itself).
    concentration: share of the map's mass in its top 10% of cells.
    centroid_y, centroid_x: centre of mass in [0, 1] image coordinates (0 = top / left).
    mass_in_mask: share of the map's mass inside the object's mask (needs a mask).
    pointing_hit: 1 when the map's peak cell overlaps the mask, else 0 (needs a mask). A cell is
        1/32 of the image a side, which acts as the pointing game's tolerance.
    blank: 1 when the map is all zero after the ReLU, else 0 (always defined).
"""

from __future__ import annotations

import math

import numpy as np

from cvd_explorer.explain.maps import resize_maps

STAT_SIZE = 32
TOP_SHARE = 0.10
STATISTICS = ("agreement", "concentration", "centroid_y", "centroid_x", "mass_in_mask", "pointing_hit", "blank")
MASK_STATISTICS = ("mass_in_mask", "pointing_hit")


def on_grid(maps: np.ndarray, size: int = STAT_SIZE) -> np.ndarray:
    """ReLU'd maps on the statistics grid.

    Args:
        maps: raw maps ``(N, h, w)`` at any resolution (may be negative).
        size: grid side.

    Returns:
        float32 ``(N, size, size)``, non-negative.
    """
    grid = resize_maps(np.maximum(np.asarray(maps, np.float32), 0), (size, size))
    return np.asarray(np.maximum(grid, 0, out=grid))  # bilinear weights are positive; this only clears -0.0


def masks_on_grid(masks: np.ndarray, size: int = STAT_SIZE) -> np.ndarray:
    """Boolean masks ``(N, H, W)`` as the fraction of each grid cell they cover, float32 ``(N, size, size)``."""
    import cv2

    m = np.asarray(masks, np.float32)
    return np.stack([cv2.resize(one, (size, size), interpolation=cv2.INTER_AREA) for one in m]).astype(np.float32)


def layer_statistics(
    grids: np.ndarray, deepest: np.ndarray, masks: np.ndarray | None = None, has_mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Statistics of one layer's maps for a batch.

    Args:
        grids: ReLU'd maps on the grid, float32 ``(N, S, S)`` (from :func:`on_grid`).
        deepest: the deepest conv layer's maps on the same grid, ``(N, S, S)``.
        masks: mask cover fractions ``(N, S, S)`` (from :func:`masks_on_grid`), or None.
        has_mask: bool ``(N,)``: which images have a mask (default: all, when ``masks`` is given).

    Returns:
        ``{statistic: float32 (N,)}`` for every name in :data:`STATISTICS`, NaN where undefined.
    """
    n, s, _ = grids.shape
    flat = grids.reshape(n, -1).astype(np.float64)
    mass = flat.sum(axis=1)
    blank = ~(mass > 0)
    safe = np.where(blank, 1.0, mass)
    nan = np.full(n, np.nan)

    top = max(1, math.ceil(TOP_SHARE * flat.shape[1]))
    top_mass = -np.partition(-flat, top - 1, axis=1)[:, :top].sum(axis=1)
    centres = (np.arange(s) + 0.5) / s
    cy = grids.sum(axis=2).astype(np.float64) @ centres / safe
    cx = grids.sum(axis=1).astype(np.float64) @ centres / safe

    out = {
        "agreement": _pearson(flat, deepest.reshape(n, -1).astype(np.float64)),
        "concentration": np.where(blank, np.nan, top_mass / safe),
        "centroid_y": np.where(blank, np.nan, cy),
        "centroid_x": np.where(blank, np.nan, cx),
        "mass_in_mask": nan.copy(),
        "pointing_hit": nan.copy(),
        "blank": blank.astype(np.float64),
    }
    if masks is not None:
        cover = masks.reshape(n, -1).astype(np.float64)
        usable = ~blank & (np.ones(n, bool) if has_mask is None else np.asarray(has_mask, bool))
        inside = (flat * cover).sum(axis=1) / safe
        peak_cover = cover[np.arange(n), flat.argmax(axis=1)]
        out["mass_in_mask"] = np.where(usable, inside, np.nan)
        out["pointing_hit"] = np.where(usable, (peak_cover > 0).astype(np.float64), np.nan)
    return {name: value.astype(np.float32) for name, value in out.items()}


def unit_mass(grids: np.ndarray) -> np.ndarray:
    """Each map of ``(N, S, S)`` divided by its sum (all-zero maps stay zero): comparable across images."""
    mass = grids.sum(axis=(1, 2), keepdims=True)
    return np.where(mass > 0, grids / np.where(mass > 0, mass, 1), 0).astype(np.float32)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of ``(N, D)`` arrays; NaN where either row is constant."""
    da = a - a.mean(axis=1, keepdims=True)
    db = b - b.mean(axis=1, keepdims=True)
    na = np.sqrt((da * da).sum(axis=1))
    nb = np.sqrt((db * db).sum(axis=1))
    ok = (na > 0) & (nb > 0)
    r = (da * db).sum(axis=1) / np.where(ok, na * nb, 1.0)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)
