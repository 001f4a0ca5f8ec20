"""The atlas embedding at the real data's scale: PCA first, exact neighbours handed to UMAP.

The large-atlas path (``embed.EXACT_KNN_FROM`` images and more) is exercised here on a few hundred
points by lowering the threshold, so the tests stay quick; bench/atlas_panel.py --images 25000 times
it at full size.
"""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.atlas import embed


def clusters(n_per: int, k: int, dims: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well-separated Gaussian clusters in ``dims`` dimensions: float16 ``(n_per*k, dims)`` and labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (k, dims)) * 3
    labels = np.repeat(np.arange(k), n_per)
    x = centres[labels] + rng.normal(0, 1, (len(labels), dims))
    return x.astype(np.float16), labels


def knn_purity(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of each point's ``k`` nearest 2-D neighbours (itself excluded) with its own label."""
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())


@pytest.fixture
def large_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the large-atlas path (precomputed exact neighbours) from 100 images on."""
    monkeypatch.setattr(embed, "EXACT_KNN_FROM", 100)


def test_reduce_is_seeded_and_keeps_small_inputs() -> None:
    x, _ = clusters(40, 4, 512)
    a = embed.reduce(x.astype(np.float32))
    assert a.shape == (160, embed.PCA_DIMS) and a.dtype == np.float32
    np.testing.assert_array_equal(a, embed.reduce(x.astype(np.float32)))
    narrow = np.ones((160, 16), np.float32)
    assert embed.reduce(narrow) is narrow  # already narrow: unchanged
    few = x[:30].astype(np.float32)
    assert embed.reduce(few) is few  # fewer images than components: unchanged


def test_exact_neighbours_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (200, 8)).astype(np.float32)
    idx, dist = embed.exact_neighbours(x, 5)
    assert idx.shape == dist.shape == (200, 5)
    full = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.testing.assert_array_equal(idx[:, 0], np.arange(200))  # itself first
    np.testing.assert_array_equal(np.sort(idx, axis=1), np.sort(np.argsort(full, axis=1)[:, :5], axis=1))
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :5], atol=1e-3)


@pytest.mark.usefixtures("large_path")
def test_large_path_is_reproducible() -> None:
    x, _ = clusters(60, 5, 2048)
    a, b = embed.embed(x), embed.embed(x)
    assert a.shape == (300, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)  # same input, same seed: identical coordinates
    assert a.min() >= 0 and a.max() <= 1


@pytest.mark.usefixtures("large_path")
def test_large_path_keeps_clusters_apart() -> None:
    x, labels = clusters(60, 6, 2048, seed=1)
    assert knn_purity(embed.embed(x), labels) >= 0.9


def test_small_path_keeps_clusters_apart() -> None:
    x, labels = clusters(50, 4, 2048, seed=2)  # wide features, under the threshold: PCA, then UMAP's own graph
    assert knn_purity(embed.embed(x), labels) >= 0.9
