"""The results table's one formatter: the look of the report and of the Compare panel."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.results import RESULT_METRICS, format_result


def test_accuracies_are_percentages_and_losses_have_four_decimals():
    assert format_result("max_train_accuracy", 0.98765) == "98.77%"
    assert format_result("test_accuracy", 0.938) == "93.80%"
    assert format_result("max_val_accuracy", np.float32(1.0)) == "100.00%"
    assert format_result("test_loss", 0.16921) == "0.1692"
    assert format_result("min_val_loss", np.float64(2.0)) == "2.0000"
    assert format_result("epochs", 1234.0) == "1,234"
    assert format_result("images_per_s", 1234.56) == "1,234.6"


def test_missing_values_read_as_a_dash():
    for metric in RESULT_METRICS:
        assert format_result(metric.key, None) == format_result(metric.key, float("nan")) == "–"


def test_unknown_figure_is_an_error():
    with pytest.raises(KeyError):
        format_result("no_such_metric", 1.0)
