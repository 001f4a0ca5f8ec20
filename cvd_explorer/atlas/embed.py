"""A seeded 2-D embedding of the pooled features: a picture of the split, not a metric.

UMAP (umap-learn, McInnes et al. 2018) keeps local neighbourhoods, which is what a map of
mistakes needs (errors that look alike sit together). It is seeded, so the same atlas gives the
same picture; distances between far-apart clusters mean little.
"""

from __future__ import annotations

import warnings

import numpy as np

SEED = 0
NEIGHBOURS = 15
MIN_DIST = 0.1
EMBEDDING_NOTE = (
    f"UMAP of the pooled features (umap-learn, seed {SEED}, {NEIGHBOURS} neighbours, min_dist {MIN_DIST}): "
    "a picture of which images the model sees alike; distances between clusters are not a metric"
)


def embed(features: np.ndarray, seed: int = SEED) -> np.ndarray:
    """2-D coordinates of each image.

    Args:
        features: ``(N, D)`` pooled features (any float dtype).
        seed: UMAP's random state.

    Returns:
        float32 ``(N, 2)``, each axis scaled to [0, 1]. Fewer than 4 images (too few for a neighbour
        graph): the first two principal components instead.
    """
    x = np.asarray(features, np.float32)
    n = len(x)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if n < 4 or not np.isfinite(x).all() or float(x.std()) == 0.0:
        coords = _pca2(np.nan_to_num(x))
    else:
        with warnings.catch_warnings():
            # "n_jobs value 1 overridden to 1 by setting random_state": seeding is the point here.
            warnings.simplefilter("ignore")
            import umap

            reducer = umap.UMAP(
                n_components=2, n_neighbors=min(NEIGHBOURS, n - 1), min_dist=MIN_DIST, random_state=seed,
                init="spectral" if n > 10 else "random",
            )
            coords = np.asarray(reducer.fit_transform(x), np.float64)
    return _unit_square(coords)


def _pca2(x: np.ndarray) -> np.ndarray:
    centred = x.astype(np.float64) - x.mean(axis=0, keepdims=True)
    if centred.shape[1] < 2 or not centred.any():
        out = np.zeros((len(x), 2))
        out[:, 0] = np.arange(len(x))
        return np.asarray(out)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = u[:, :2] * s[:2]
    if coords.shape[1] < 2:
        coords = np.concatenate([coords, np.zeros((len(x), 1))], axis=1)
    return np.asarray(coords, np.float64)


def _unit_square(coords: np.ndarray) -> np.ndarray:
    lo = coords.min(axis=0, keepdims=True)
    span = coords.max(axis=0, keepdims=True) - lo
    return np.asarray((coords - lo) / np.where(span > 0, span, 1.0), np.float32)
