"""The atlas' per-map statistics, depth curves, label issues and embedding, on hand-made arrays."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from cvd_explorer.atlas import depth, embed, labels, mapstats, schema
from cvd_explorer.atlas.curves import DepthCurves
from cvd_explorer.atlas.schema import AtlasRow

S = mapstats.STAT_SIZE


def _blob(cy: int, cx: int, r: int = 3, size: int = S) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.float32)


def test_statistics_of_known_maps() -> None:
    left, right = _blob(16, 6), _blob(16, 26)
    grids = np.stack([left, right, np.zeros((S, S), np.float32), left * 5])
    deepest = np.stack([left, left, left, left])
    mask = np.zeros((4, S, S), np.float32)
    mask[:, :, :16] = 1.0  # the left half is the object
    out = mapstats.layer_statistics(grids, deepest, mask)

    assert out["agreement"][0] == pytest.approx(1.0)
    assert out["agreement"][1] < 0  # disjoint blobs correlate negatively
    assert out["agreement"][3] == pytest.approx(1.0)  # scale does not matter
    assert math.isnan(out["agreement"][2])  # a blank map has no agreement
    assert out["blank"].tolist() == [0, 0, 1, 0]
    assert out["mass_in_mask"][0] == pytest.approx(1.0)
    assert out["mass_in_mask"][1] == pytest.approx(0.0)
    assert out["pointing_hit"].tolist()[:2] == [1.0, 0.0]
    assert math.isnan(out["pointing_hit"][2])
    assert out["centroid_x"][0] == pytest.approx((6 + 0.5) / S, abs=1e-6)
    assert out["centroid_y"][1] == pytest.approx((16 + 0.5) / S, abs=1e-6)
    # a blob of 29 cells holds all its mass in the top 10% (103 cells)
    assert out["concentration"][0] == pytest.approx(1.0)


def test_concentration_of_a_flat_map_is_the_top_share() -> None:
    flat = np.ones((1, S, S), np.float32)
    out = mapstats.layer_statistics(flat, flat)
    assert out["concentration"][0] == pytest.approx(math.ceil(0.1 * S * S) / (S * S))
    assert math.isnan(out["agreement"][0])  # a constant map has no correlation


def test_on_grid_applies_relu_and_resizes() -> None:
    raw = np.full((2, 7, 7), -1.0, np.float32)
    raw[0, 3, 3] = 2.0
    grid = mapstats.on_grid(raw)
    assert grid.shape == (2, S, S)
    assert grid.min() >= 0
    assert grid[1].sum() == 0
    assert np.unravel_index(grid[0].argmax(), grid[0].shape) in {(15, 15), (15, 16), (16, 15), (16, 16)}


def test_mask_statistics_absent_without_mask() -> None:
    g = np.stack([_blob(10, 10), _blob(20, 20)])
    cover = np.ones((2, S, S), np.float32)
    out = mapstats.layer_statistics(g, g, cover, has_mask=np.array([True, False]))
    assert out["mass_in_mask"][0] == pytest.approx(1.0)
    assert math.isnan(out["mass_in_mask"][1]) and math.isnan(out["pointing_hit"][1])


def test_unit_mass() -> None:
    g = np.stack([_blob(10, 10) * 7, np.zeros((S, S), np.float32)])
    u = mapstats.unit_mass(g)
    assert u[0].sum() == pytest.approx(1.0)
    assert u[1].sum() == 0


def test_mean_interval_t_and_wilson() -> None:
    m, ci, n = depth.mean_interval(np.array([1.0, 2.0, 3.0, np.nan]))
    assert (m, n) == (2.0, 3)
    assert ci is not None
    # t(0.975, 2) = 4.302652729911275; sd = 1
    assert ci[1] - m == pytest.approx(4.302652729911275 / math.sqrt(3))
    m, ci, n = depth.mean_interval(np.array([1.0, 0.0, 1.0, 1.0]), share=True)
    assert m == 0.75 and n == 4
    assert ci is not None and 0.3 < ci[0] < 0.75 < ci[1] <= 1.0
    assert depth.mean_interval(np.array([np.nan])) == (None, None, 0)
    assert depth.mean_interval(np.array([0.5]))[1] is None


def test_depth_curves_split_correct_and_misclassified_per_class() -> None:
    n, L = 6, 3
    agreement = np.array([[0.1, 0.5, 1.0]] * 3 + [[-0.2, 0.0, 1.0]] * 3, np.float32)
    stats = {name: np.full((n, L), np.nan, np.float32) for name in mapstats.STATISTICS}
    stats["agreement"] = agreement
    stats["blank"] = np.zeros((n, L), np.float32)
    correct = np.array([True, True, True, False, False, False])
    y = np.array([0, 1, 0, 1, 0, 1])
    curves = depth.depth_curves(["a", "b", "c"], stats, correct, y, ("cat", "dog"), with_masks=False)
    assert curves.layers == ("a", "b", "c")
    agreement_curve = curves.overall["agreement_with_last"]
    assert agreement_curve.correct.means == pytest.approx((0.1, 0.5, 1.0))
    assert agreement_curve.misclassified.means == pytest.approx((-0.2, 0.0, 1.0))
    assert "mass_in_mask" not in curves and curves.names == ["agreement_with_last", "concentration", "blank_share"]
    assert curves.by_class["cat"]["agreement_with_last"].correct.means == pytest.approx((0.1, 0.5, 1.0))
    assert curves.by_class["dog"]["agreement_with_last"].misclassified.counts == (2, 2, 2)
    assert curves.overall["concentration"].correct.means == (None, None, None)
    # the JSON of summary["depth"] keeps its layout, and reads back to the same curves
    out = curves.to_json()
    assert list(out) == ["layers", "agreement_with_last", "concentration", "blank_share", "by_class", "intervals", "n"]
    assert out["agreement_with_last"]["correct"] == pytest.approx([0.1, 0.5, 1.0])
    assert out["n"]["by_class"]["dog"]["agreement_with_last"]["misclassified"] == [2, 2, 2]
    assert out["intervals"]["agreement_with_last"]["correct"][0] == pytest.approx([0.1, 0.1])
    assert out["concentration"]["correct"] == [None, None, None]
    assert DepthCurves.from_json(json.loads(json.dumps(out))) == curves


def test_schema_rows_chunks_and_groups() -> None:
    row = AtlasRow("test/cat.1.jpg", "cat", "dog", 0.75, float("nan"), False, 0.1, 0.2, "d3", True, 0.01, True)
    assert AtlasRow.HEADER == ("path", "label", "prediction", "p", "loss", "correct", "x", "y", "group",
                               "copy_elsewhere", "label_score", "suspect")
    cells = row.to_csv()
    assert cells[5] == "0" and cells[9] == "1" and cells[4] == "nan"
    back = AtlasRow.from_csv(dict(zip(AtlasRow.HEADER, cells, strict=True)))
    assert back.copy_elsewhere and not back.correct and math.isnan(back.loss) and back.p == 0.75

    assert [g.name for g in schema.groups(("cat", "dog"))] == [
        "cat/correct", "cat/misclassified", "dog/correct", "dog/misclassified"]
    assert len(schema.groups(("a", "b", "c"))) == 6  # no literal 4: three classes give six groups
    assert schema.group_index(np.array([0, 1, 1]), np.array([True, True, False])).tolist() == [0, 2, 3]

    empty = schema.Chunk.empty(3, 2, 4, [(5, "broken")])
    assert len(empty) == 0 and empty.block_sums.shape == (2, 4, S, S) and empty.stats["agreement"].shape == (0, 3)
    full = dataclasses.replace(
        empty, indices=np.array([9, 7]), logits=np.zeros(2, np.float32), features=np.ones((2, 4), np.float16),
        thumbs=np.zeros((2, S, S), np.float16), has_mask=np.array([True, False]),
        stats={name: np.full((2, 3), k, np.float32) for k, name in enumerate(mapstats.STATISTICS)},
        block_counts=np.ones((2, 4), np.int64), failed=np.zeros(0, np.int64), failed_reason=np.zeros(0, "<U1"))
    again = schema.Chunk.from_npz(full.to_npz())
    assert set(full.to_npz()) >= {"indices", "stat_agreement", "block_sums", "failed_reason"}
    joined = schema.Chunk.join([again, empty], 3, 2, 4)
    assert joined.indices.tolist() == [7, 9] and joined.has_mask.tolist() == [False, True]
    assert joined.failed.tolist() == [5] and joined.failed_reason.tolist() == ["broken"]
    assert joined.block_counts.sum() == 8
    assert schema.Chunk.join([empty], 3, 2, 4).indices.shape == (0,)


def test_label_issues_find_flipped_labels() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 400)
    p = np.where(truth == 1, rng.uniform(0.8, 0.99, 400), rng.uniform(0.01, 0.2, 400))
    given = truth.copy()
    flipped = rng.choice(400, 20, replace=False)
    given[flipped] = 1 - given[flipped]
    found = labels.find_label_issues(given, p)
    assert set(found.suspects.tolist()) == set(flipped.tolist())
    assert found.scores[found.suspects].max() < np.delete(found.scores, found.suspects).min()
    # most suspicious first
    assert list(found.scores[found.suspects]) == sorted(found.scores[found.suspects])
    rows = labels.issue_rows(found, [f"img{i}" for i in range(400)], given, ("cat", "dog"))
    assert rows[0]["suggested"] != rows[0]["label"]
    assert set(rows[0]) == {"path", "label", "suggested", "score"}


def test_label_issues_degenerate_inputs() -> None:
    found = labels.find_label_issues(np.array([1, 1, 1]), np.array([0.9, 0.2, 0.8]))
    assert len(found.suspects) == 0 and found.scores.shape == (3,)


def test_embedding_is_seeded_and_in_the_unit_square() -> None:
    rng = np.random.default_rng(1)
    feats = np.concatenate([rng.normal(0, 1, (30, 16)), rng.normal(8, 1, (30, 16))]).astype(np.float16)
    a, b = embed.embed(feats), embed.embed(feats)
    assert a.shape == (60, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    # the two clusters stay apart
    ca, cb = a[:30].mean(axis=0), a[30:].mean(axis=0)
    assert np.linalg.norm(ca - cb) > 0.3
    assert embed.embed(feats[:3]).shape == (3, 2)  # too few for UMAP: PCA
    assert embed.embed(np.zeros((0, 4))).shape == (0, 2)
