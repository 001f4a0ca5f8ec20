"""Paired-comparison statistics against textbook values and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sstats

from cvd_explorer.stats import accuracy_interval, agreement_cells, confusion_matrix, mcnemar


def test_wilson_interval_matches_the_formula_and_the_study_scale():
    # 3,752 of 4,000 right (the study's 93.8%): Wilson 95% interval from the closed form
    correct = np.r_[np.ones(3752, bool), np.zeros(248, bool)]
    interval = accuracy_interval(correct)
    p, n, z = 0.938, 4000, sstats.norm.ppf(0.975)
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert interval.value == pytest.approx(0.938)
    assert interval.low == pytest.approx(centre - half, abs=1e-9)
    assert interval.high == pytest.approx(centre + half, abs=1e-9)
    assert accuracy_interval(np.ones(10, bool)).high == 1.0


def test_mcnemar_exact_and_chi_squared_agree_with_scipy():
    rng = np.random.default_rng(0)
    a = rng.random(4000) < 0.938
    b = a.copy()
    flip = rng.choice(4000, 60, replace=False)
    b[flip] = ~b[flip]
    result = mcnemar(a, b)
    assert result.method == "chi-squared"
    expected = sstats.chi2.sf((abs(result.only_a - result.only_b) - 1) ** 2 / (result.only_a + result.only_b), 1)
    assert result.p_value == pytest.approx(expected, rel=1e-9)
    small = mcnemar([1, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1])
    assert (small.only_a, small.only_b, small.method) == (5, 1, "exact")
    assert small.p_value == pytest.approx(sstats.binomtest(1, 6, 0.5).pvalue)


def test_mcnemar_sentence_says_whether_significant():
    a = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    b = np.r_[np.zeros(100, bool), np.zeros(100, bool)]
    assert "is significant at 5%" in mcnemar(a, b).sentence("ResNet50", "ResNet101")
    assert "is not significant" in mcnemar(a, a).sentence()
    with pytest.raises(ValueError, match="same length"):
        mcnemar([True], [True, False])


def test_confusion_and_agreement_cells_count_right():
    matrix = confusion_matrix(["cat", "cat", "dog", "dog", "dog"], ["cat", "dog", "dog", "dog", "cat"], ("cat", "dog"))
    np.testing.assert_array_equal(matrix, [[1, 1], [1, 2]])
    cells = agreement_cells([1, 1, 0, 0], [1, 0, 1, 0])
    assert {k: v.tolist() for k, v in cells.items()} == {
        "all": [0, 1, 2, 3], "both_right": [0], "only_a": [1], "only_b": [2], "both_wrong": [3],
    }

