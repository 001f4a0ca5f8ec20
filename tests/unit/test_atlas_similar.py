"""Nearest images by cosine distance (atlas/similar.py) on hand-made and random features."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.atlas.similar import nearest, unit_rows


def test_unit_rows_have_length_one_and_a_zero_row_stays_zero():
    unit = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]], np.float16))
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])


def test_nearest_orders_by_cosine_distance_and_leaves_the_query_out():
    features = np.array([[1, 0], [1, 0.1], [0, 1], [-1, 0], [1, 1]], np.float32)
    found = nearest(unit_rows(features), [0], k=3)
    assert found.indices.tolist() == [1, 4, 2]
    np.testing.assert_allclose(found.distances, [1 - 1 / np.hypot(1, 0.1), 1 - 1 / np.sqrt(2), 1.0], atol=1e-6)


def test_the_query_comes_first_when_it_is_kept():
    found = nearest(unit_rows(np.eye(4, dtype=np.float32) + 0.01), [2], k=2, exclude_query=False)
    assert found.indices[0] == 2 and found.distances[0] == pytest.approx(0.0, abs=1e-6)


def test_several_images_query_with_their_centroid():
    features = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0.05], [0, 0, 1], [1, -1, 0]], np.float32)
    assert nearest(unit_rows(features), [0, 1], k=1).indices.tolist() == [2]


def test_it_equals_scikit_learns_brute_force_cosine_neighbours():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 64)).astype(np.float16)
    unit = unit_rows(features)
    reference = NearestNeighbors(n_neighbors=11, metric="cosine", algorithm="brute").fit(
        features.astype(np.float64))
    dist, idx = reference.kneighbors(features[[7]].astype(np.float64))
    found = nearest(unit, [7], k=10)
    assert found.indices.tolist() == idx[0, 1:].tolist()
    np.testing.assert_allclose(found.distances, dist[0, 1:], atol=1e-5)


def test_k_larger_than_the_atlas_returns_every_other_image():
    found = nearest(unit_rows(np.eye(3, dtype=np.float32)), [0], k=50)
    assert sorted(found.indices.tolist()) == [1, 2]


@pytest.mark.parametrize(("query", "k", "message"), [
    ([], 3, "at least one image"), ([9], 3, "out of range: the atlas has 3 images"), ([0], 0, "k must be"),
])
def test_bad_queries_say_what_is_wrong(query, k, message):
    with pytest.raises(ValueError, match=message):
        nearest(unit_rows(np.eye(3, dtype=np.float32)), query, k=k)


def test_a_vector_from_elsewhere_queries_every_row():
    from cvd_explorer.atlas.similar import centroid, nearest_to

    unit = unit_rows(np.array([[1, 0], [0, 1], [1, 1]], np.float32))
    direction = centroid(unit_rows(np.array([[2, 1.9]], np.float32)))
    assert nearest_to(unit, direction, k=2).indices.tolist() == [2, 0]
    with pytest.raises(ValueError, match="a query of"):
        nearest_to(unit, np.ones(3, np.float32))
