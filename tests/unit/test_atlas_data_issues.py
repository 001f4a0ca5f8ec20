"""Data issues beyond label errors (atlas/data_issues.py): cleanlab Datalab on planted features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvd_explorer.atlas.data_issues import ISSUE_TYPES, find_data_issues

CLASSES = ("cat", "dog")


@pytest.fixture(scope="module")
def planted():
    """400 images of 2 classes; rows 0-2 point somewhere no other image does (outliers); 10 and 11 are the
    same image twice (unknown to the scan), as are 20 and 21 (a scan duplicate group); "dog" drifts with
    its order (non-IID), "cat" does not."""
    rng = np.random.default_rng(0)
    n, dims = 400, 64
    labels = np.repeat([0, 1], n // 2)
    features = np.abs(rng.normal(size=(n, dims))) + 0.2
    features[:, 32:] *= 0.05
    features[labels == 1, :8] += 3.0
    drift = np.linspace(0, 6, n // 2)
    features[labels == 1, 8:16] += drift[:, None]
    features[:3] = 0.05
    features[np.arange(3), 40 + np.arange(3)] = 8.0
    features[11] = features[10] + 1e-3
    features[21] = features[20] + 1e-3
    probs = np.full((n, 2), 0.1)
    probs[np.arange(n), labels] = 0.9
    groups = [""] * n
    groups[20] = groups[21] = "d1"
    found = find_data_issues(features.astype(np.float16), labels, probs, CLASSES, groups)
    return found, groups


def test_every_type_is_reported(planted):
    found, _ = planted
    assert set(found) == set(ISSUE_TYPES)


def test_outliers_are_flagged_most_severe_first(planted):
    found, _ = planted
    outliers = found["outlier"]
    assert {0, 1, 2} <= set(outliers.flagged[:5].tolist())
    scores = outliers.scores[outliers.flagged]
    assert (np.diff(scores) >= 0).all()
    assert outliers.scores[:3].max() < np.median(outliers.scores)


def test_near_duplicates_the_scan_already_grouped_are_not_reported_twice(planted):
    found, _ = planted
    flagged = set(found["near_duplicate"].flagged.tolist())
    assert {10, 11} <= flagged
    assert not {20, 21} & flagged


def test_non_iid_is_tested_within_each_class(planted):
    found, _ = planted
    p = found["non_iid"].p_values
    assert set(p) == set(CLASSES)
    assert p["dog"] < 0.01 < p["cat"]


def test_the_json_lists_the_top_paths_with_scores(planted):
    found, _ = planted
    paths = [f"img/{i}.png" for i in range(400)]
    entry = json.loads(json.dumps(found["outlier"].to_json(paths, top=2), allow_nan=False))
    assert entry["count"] == found["outlier"].flagged.size
    assert len(entry["paths"]) == len(entry["scores"]) == 2
    assert entry["paths"][0] == paths[int(found["outlier"].flagged[0])]
    assert "p_values" in found["non_iid"].to_json(paths)
