"""Underperforming slices (atlas/slices.py) on features with a planted failing group."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvd_explorer.atlas.slices import MIN_SIZE, cluster_count, find_slices, merges, slice_maps

CLASSES = ("cat", "dog", "fox")


def planted(seed: int = 0):
    """300 images of 3 classes, each class made of 4 feature blobs; within "dog", one blob of 30 images
    (rows 100..129) is 80% misclassified, everything else 5%."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, 128)) * 4
    labels = np.repeat(np.arange(3), 100)
    blob = np.concatenate([np.repeat(np.arange(4), [30, 25, 25, 20]) + 4 * k for k in range(3)])
    features = (centres[blob] + rng.normal(size=(300, 128))).astype(np.float16)
    wrong = rng.random(300) < 0.05
    wrong[100:130] = rng.random(30) < 0.8
    return features, labels, ~wrong, np.arange(100, 130)


def test_the_planted_group_is_the_first_slice_with_its_statistics():
    features, labels, correct, planted_rows = planted()
    slices = find_slices(features, labels, correct, CLASSES)
    first = slices[0]
    overlap = np.intersect1d(first.indices, planted_rows).size
    assert overlap / np.union1d(first.indices, planted_rows).size >= 0.8
    assert first.classes == {"dog": first.size} and first.scope in ("dog", "all classes")
    assert first.errors == int((~correct[first.indices]).sum())
    assert first.error_rate == pytest.approx(first.errors / first.size)
    assert first.interval[0] < first.error_rate < first.interval[1]
    assert first.overall_error_rate == pytest.approx(float((~correct).mean()))
    assert first.q_value < 1e-6 and first.p_value <= first.q_value


def test_slices_are_ranked_by_q_value_and_all_err_above_the_overall_rate():
    features, labels, correct, _ = planted(1)
    slices = find_slices(features, labels, correct, CLASSES)
    assert [s.id for s in slices] == list(range(len(slices)))
    assert all(a.q_value <= b.q_value for a, b in zip(slices, slices[1:], strict=False))
    assert all(s.error_rate > s.overall_error_rate and s.size >= MIN_SIZE for s in slices)
    for s in slices:
        assert s.interval[0] <= s.error_rate <= s.interval[1]


def test_json_entries_carry_the_paths_and_no_nan():
    features, labels, correct, _ = planted()
    paths = [f"img/{i}.jpg" for i in range(300)]
    entries = [s.to_json(paths) for s in find_slices(features, labels, correct, CLASSES)]
    text = json.dumps(entries, allow_nan=False)
    first = json.loads(text)[0]
    assert set(first) >= {"id", "size", "paths", "error_rate", "interval", "overall_error_rate", "p_value",
                          "q_value", "classes"}
    assert len(first["paths"]) == first["size"] == sum(first["classes"].values())


def test_a_model_without_mistakes_has_no_slices():
    features, labels, correct, _ = planted()
    assert find_slices(features, labels, np.ones_like(correct), CLASSES) == []


def test_the_number_of_clusters_grows_with_the_group():
    assert cluster_count(MIN_SIZE) == 0
    assert [cluster_count(n) for n in (10, 50, 200, 2000, 25000)] == [2, 5, 10, 30, 30]


def test_slice_maps_are_unit_mass_means_of_the_slice_and_its_class_correct_rest():
    features, labels, correct, _ = planted()
    rng = np.random.default_rng(2)
    thumbs = rng.random((300, 8, 8)).astype(np.float16)
    first = find_slices(features, labels, correct, CLASSES)[0]
    maps = slice_maps(thumbs, first, labels, correct)
    assert maps.shape == (2, 8, 8)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), [1.0, 1.0], rtol=1e-5)
    unit = thumbs.astype(np.float32) / thumbs.astype(np.float32).sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(maps[0], unit[first.indices].mean(axis=0), rtol=1e-4)
    rest = np.setdiff1d(np.flatnonzero(correct & (labels == 1)), first.indices)
    np.testing.assert_allclose(maps[1], unit[rest].mean(axis=0), rtol=1e-4)


def test_mask_mass_compares_the_slice_with_the_rest():
    features, labels, correct, planted_rows = planted()
    mass = np.full(300, 0.6)
    mass[planted_rows] = 0.1
    mass[5] = np.nan
    first = find_slices(features, labels, correct, CLASSES, mask_mass=mass)[0]
    assert first.mask_mass is not None
    assert first.mask_mass["slice"] < 0.3 < first.mask_mass["rest"]


def test_a_failing_group_the_clustering_cuts_is_found_whole():
    """40 failing dogs in one tight blob, among 160 others in blobs of 20: k-means (7 clusters for
    100 dogs) cuts the blob, and without the merged candidates the first slice held 15 to 28 of its 40 images."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        centres = rng.normal(size=(10, 64)) * 3
        features = (centres[np.repeat(np.arange(10), 20)] + rng.normal(size=(200, 64))).astype(np.float32)
        features[100:140] = centres[5] + rng.normal(size=(40, 64))
        wrong = rng.random(200) < 0.08
        wrong[100:140] = rng.random(40) < 0.85
        first = find_slices(features, np.repeat([0, 1], 100), ~wrong, ("cat", "dog"))[0]
        assert np.array_equal(first.indices, np.arange(100, 140)), (seed, first.indices)


def test_merges_are_the_unions_up_a_ward_tree_of_the_centres():
    centres = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.2, 0.0], [20.0, 0.0]])
    clusters = [np.arange(3 * c, 3 * c + 3) for c in range(5)]
    nodes = merges(centres, clusters)
    assert [sorted(n.tolist()) for n in nodes] == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11],
                                                   list(range(12))]


def test_a_part_of_a_better_slice_stays_only_when_it_errs_more():
    from cvd_explorer.atlas.slices import Slice, _repeats

    wide = Slice(0, "dog", np.arange(40), 36, 0.9, (0.77, 0.96), 0.2, 1e-20, 1e-19, {"dog": 40})
    core = np.arange(20)
    assert not _repeats(core, 1.0, wide)  # the core of the group: errs more, stays
    assert _repeats(core, 0.9, wide) and _repeats(core, 0.5, wide)  # a part that errs no more: dropped
    assert _repeats(np.arange(2, 42), 0.95, wide)  # nearly the same group (Jaccard 38 / 42)
    assert not _repeats(np.arange(20, 60), 0.6, wide)  # half outside: another group
