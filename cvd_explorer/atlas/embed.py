"""A seeded 2-D embedding of the pooled features: a picture of the split, not a metric.

UMAP (umap-learn, McInnes et al. 2018) keeps local neighbourhoods, which is what a map of
mistakes needs (errors that look alike sit together). It is seeded, so the same atlas gives the
same picture; distances between far-apart clusters mean little.

At the real data's scale (25,000 images of 2,048 features) a seeded UMAP runs on one thread, so two
steps come first: the features are reduced to :data:`PCA_DIMS` principal components (seeded
randomized PCA; the neighbourhoods UMAP keeps live in the leading components), and from
:data:`EXACT_KNN_FROM` images on the neighbour graph is computed exactly by brute force (BLAS, all
cores) and handed to UMAP, instead of UMAP's single-threaded approximate search. Below that size
UMAP computes exact neighbours itself, so both paths use the same, exact graph.

The layout starts from the first two principal components (``init="pca"``, which keeps the global
arrangement as well as a spectral start does, Kobak & Linderman 2021), not from UMAP's spectral
start: when the neighbour graph falls apart into more than four pieces (well-separated clusters)
the spectral start places the pieces differently from call to call, so the same atlas would not
give the same picture.
"""

from __future__ import annotations

import warnings

import numpy as np

SEED = 0
NEIGHBOURS = 15
MIN_DIST = 0.1
PCA_DIMS = 50
EXACT_KNN_FROM = 4096  # umap-learn computes exact neighbours itself below this many points
EMBEDDING_NOTE = (
    f"UMAP of the pooled features reduced to at most {PCA_DIMS} principal components (umap-learn, seed {SEED}, "
    f"{NEIGHBOURS} neighbours, min_dist {MIN_DIST}): "
    "a picture of which images the model sees alike; distances between clusters are not a metric"
)


def embed(features: np.ndarray, seed: int = SEED) -> np.ndarray:
    """2-D coordinates of each image.

    Args:
        features: ``(N, D)`` pooled features (any float dtype).
        seed: UMAP's random state.

    Returns:
        float32 ``(N, 2)``, each axis scaled to [0, 1]; the same input and seed give the same
        coordinates. Fewer than 4 images (too few for a neighbour graph): the first two principal
        components instead.
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

            x = reduce(x, seed)
            k = min(NEIGHBOURS, n - 1)
            knn = exact_neighbours(x, k) if n >= EXACT_KNN_FROM else (None, None, None)
            reducer = umap.UMAP(
                n_components=2, n_neighbors=k, min_dist=MIN_DIST, random_state=seed,
                init="pca" if n > 10 and x.shape[1] >= 2 else "random", precomputed_knn=knn,
            )
            coords = np.asarray(reducer.fit_transform(x), np.float64)
    return _unit_square(coords)


def reduce(x: np.ndarray, seed: int = SEED, dims: int = PCA_DIMS) -> np.ndarray:
    """The first ``dims`` principal components of float32 ``(N, D)`` features (seeded randomized PCA).

    Features with at most ``dims`` columns, or at most ``dims`` images (where the projection would keep
    every distance anyway), are returned unchanged.
    """
    if x.shape[1] <= dims or len(x) <= dims:
        return x
    from sklearn.decomposition import PCA

    return np.asarray(PCA(dims, svd_solver="randomized", random_state=seed).fit_transform(x), np.float32)


def exact_neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest points by Euclidean distance, itself included (first, unless it has an
    exact duplicate), as UMAP's own neighbour search returns them.

    Returns:
        ``(indices int64 (N, k), distances float32 (N, k))``, nearest first.
    """
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(x).kneighbors(x)
    return np.asarray(idx, np.int64), np.asarray(dist, np.float32)


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
