"""The reference study's results table: which summary figures it has, how to show and rank them.

One look wherever the table appears (the report, the Compare panel): accuracies as percentages with
two decimals and losses with four, as the study's own table reads ("93.80%", "0.1692").
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple


class ResultMetric(NamedTuple):
    """One row: ``key`` in ``summary.json``, its ``label``, ``fmt`` for display, and ``better``
    ("max", "min" or None when neither value is better)."""

    key: str
    label: str
    fmt: str
    better: str | None


# The study's six figures in its order, then what it did not report.
RESULT_METRICS: tuple[ResultMetric, ...] = (
    ResultMetric("max_train_accuracy", "max train accuracy", "{:.2%}", "max"),
    ResultMetric("min_train_loss", "min train loss", "{:.4f}", "min"),
    ResultMetric("max_val_accuracy", "max validation accuracy", "{:.2%}", "max"),
    ResultMetric("min_val_loss", "min validation loss", "{:.4f}", "min"),
    ResultMetric("test_accuracy", "test accuracy", "{:.2%}", "max"),
    ResultMetric("test_loss", "test loss", "{:.4f}", "min"),
    ResultMetric("epochs", "epochs", "{:,d}", None),
    ResultMetric("images_per_s", "images/s (training)", "{:,.1f}", "max"),
)
_BY_KEY = {metric.key: metric for metric in RESULT_METRICS}
MISSING = "–"


def format_result(key: str, value: Any) -> str:
    """The table's text for ``value`` of the figure ``key`` (one of :data:`RESULT_METRICS`).

    Accuracies read "98.76%", losses "0.1692", epochs "1,234", images/s "1,234.5"; a missing value
    (None or NaN) reads "–".
    """
    if value is None:
        return MISSING
    number = float(value)
    if math.isnan(number):
        return MISSING
    fmt = _BY_KEY[key].fmt
    return fmt.format(int(number)) if fmt.endswith("d}") else fmt.format(number)
