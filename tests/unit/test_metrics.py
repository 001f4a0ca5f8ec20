"""Metrics on hand-made maps and models whose answers are known."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvd_explorer.explain.metrics import (
    average_drop,
    deletion_auc,
    energy_pointing_game,
    increase_in_confidence,
    insertion_auc,
    pointing_game,
    pointing_hits,
    random_maps,
    randomization_check,
    rank_correlation,
)
from tests.unit.explain_fixtures import images, tiny_model


def test_pointing_game_with_tolerance():
    masks = np.zeros((3, 32, 32), np.uint8)
    masks[:, 10:20, 10:20] = 1
    cams = np.zeros((3, 32, 32), np.float32)
    cams[0, 15, 15] = 1  # inside
    cams[1, 10, 23] = 1  # 4 px right of the mask
    cams[2, 0, 0] = 1  # far away
    assert pointing_hits(cams, masks, tolerance_px=0).tolist() == [True, False, False]
    assert pointing_hits(cams, masks, tolerance_px=4).tolist() == [True, True, False]
    assert pointing_game(cams, masks, tolerance_px=4) == pytest.approx(2 / 3)
    small = cams[:, ::4, ::4]  # maps at another resolution are resized to the mask
    peak = np.unravel_index(np.argmax(np.kron(small[0], np.ones((4, 4)))), (32, 32))
    assert pointing_hits(small, masks, 0)[0] == bool(masks[0][peak])


def test_energy_pointing_game():
    masks = np.zeros((2, 4, 4), bool)
    masks[:, :2] = True
    cams = np.zeros((2, 4, 4), np.float32)
    cams[0, 0, 0], cams[0, 3, 3] = 3.0, 1.0
    np.testing.assert_allclose(energy_pointing_game(cams, masks), [0.75, 0.0])


def test_rank_correlation_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200).astype(float)  # many ties
    b = a + rng.normal(0, 2, 200)
    assert rank_correlation(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert rank_correlation(a, np.ones(200)) == 0.0


@pytest.fixture(scope="module")
def brightness_model():
    """P(dog) grows with the mean brightness: sigmoid(0.1 * (mean(rgb) - 60))."""
    inp = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    out = keras.layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inp, out)
    model.get_layer("predictions").set_weights([np.full((3, 1), 0.1 / 3, np.float32), np.array([-6.0], np.float32)])
    return model


@pytest.fixture(scope="module")
def bright_square():
    x = np.zeros((2, 16, 16, 3), np.float32)
    x[:, 4:10, 4:10] = 255.0
    good = np.zeros((2, 16, 16), np.float32)
    good[:, 4:10, 4:10] = 1.0
    return x, good


def test_deletion_and_insertion_rank_a_good_map_above_its_inverse(brightness_model, bright_square):
    x, good = bright_square
    bad = 1.0 - good
    kw = dict(target="dog", steps=16, blur_sigma=3.0)
    assert (deletion_auc(brightness_model, x, good, **kw) < deletion_auc(brightness_model, x, bad, **kw) - 0.05).all()
    assert (insertion_auc(brightness_model, x, good, **kw) > insertion_auc(brightness_model, x, bad, **kw) + 0.05).all()
    rand = insertion_auc(brightness_model, x, random_maps((2, 16, 16), seed=1), **kw)
    assert ((rand >= 0) & (rand <= 1)).all()


def test_average_drop_and_increase_in_confidence(brightness_model, bright_square):
    x, good = bright_square
    ones = np.ones_like(good)
    assert average_drop(brightness_model, x, ones, target="dog") == pytest.approx(0.0, abs=1e-6)
    assert increase_in_confidence(brightness_model, x, ones, target="dog") == 0.0
    p = 1 / (1 + np.exp(-(0.1 * (255 * 36 / 256) - 6)))
    p0 = 1 / (1 + np.exp(6))
    expected = 100 * (p - p0) / p
    assert average_drop(brightness_model, x, np.zeros_like(good), target="dog") == pytest.approx(expected, rel=1e-4)
    assert increase_in_confidence(brightness_model, x, np.zeros_like(good), target="cat") == 100.0


def test_randomization_check_cascades_on_a_clone():
    model = tiny_model("sigmoid", seed=30)
    x = images(4, seed=31)
    before = [w.copy() for w in model.get_weights()]
    steps = randomization_check(model, x, "conv_b", seed=0)
    assert [s["randomized"] for s in steps] == ["none", "predictions", "conv_b", "conv_a"]
    assert steps[0]["spearman_median"] == pytest.approx(1.0)
    assert steps[-1]["spearman_median"] < 0.9
    assert all(len(s["spearman"]) == 4 for s in steps)
    assert abs(steps[0]["baseline_median"]) < 0.5
    assert all(a.tobytes() == b.tobytes() for a, b in zip(model.get_weights(), before, strict=True))
