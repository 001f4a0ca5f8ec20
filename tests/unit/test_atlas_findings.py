"""The finish step's findings (atlas/findings.py): slices, their maps and the data issues together, on
planted features, and on splits too small to cluster."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvd_explorer.atlas.findings import findings
from cvd_explorer.atlas.schema import AtlasRow
from tests.unit.test_atlas_slices import CLASSES, planted


def _rows(n: int) -> list[AtlasRow]:
    return [AtlasRow(f"img/{i}.jpg", "cat", "cat", 0.5, 0.1, True, 0.0, 0.0, "", False, 1.0, False)
            for i in range(n)]


def test_findings_give_json_slices_maps_and_issues():
    features, labels, correct, planted_rows = planted()
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(3), len(labels))
    thumbs = rng.random((len(labels), 8, 8)).astype(np.float16)
    mass = np.full(len(labels), 0.7)
    mass[planted_rows] = 0.2
    found = findings(features, labels, correct, probs, CLASSES, _rows(len(labels)), thumbs, mask_mass=mass)
    text = json.dumps({"slices": found.slices, "issues": found.issues}, allow_nan=False)
    back = json.loads(text)
    first = back["slices"][0]
    assert len(set(first["paths"])) == first["size"] and set(first["paths"]) <= {r.path for r in _rows(300)}
    assert len(set(first["paths"]) & {f"img/{i}.jpg" for i in planted_rows}) >= 0.8 * len(planted_rows)
    assert first["mask_mass"]["slice"] < first["mask_mass"]["rest"]
    assert found.maps.shape == (len(found.slices), 2, 8, 8) and found.maps.dtype == np.float32
    np.testing.assert_allclose(found.maps.sum(axis=(2, 3)), 1.0, rtol=1e-4)
    assert set(back["issues"]) == {"outlier", "near_duplicate", "non_iid"}


@pytest.mark.parametrize("n", [1, 3, 6, 12])
def test_tiny_splits_find_nothing_or_little_without_failing(n: int):
    rng = np.random.default_rng(n)
    labels = np.arange(n) % 3
    found = findings(rng.random((n, 16)).astype(np.float16), labels, rng.random(n) > 0.3,
                     rng.dirichlet(np.ones(3), n), CLASSES, _rows(n), rng.random((n, 4, 4)))
    json.dumps({"slices": found.slices, "issues": found.issues}, allow_nan=False)
    assert found.maps.shape == (len(found.slices), 2, 4, 4)
    assert all(entry["count"] <= n for entry in found.issues.values())
    if n < 10:
        assert found.slices == []
