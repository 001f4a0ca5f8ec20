"""The reference study's results table: which summary figures it has, how to show and rank them."""

from __future__ import annotations

from typing import NamedTuple


class ResultMetric(NamedTuple):
    """One row: ``key`` in ``summary.json``, its ``label``, ``fmt`` for display, and ``better``
    ("max", "min" or None when neither value is better)."""

    key: str
    label: str
    fmt: str
    better: str | None


# The study's six figures in its order, then what it did not report.
RESULT_METRICS: tuple[ResultMetric, ...] = (
    ResultMetric("max_train_accuracy", "max train accuracy", "{:.4f}", "max"),
    ResultMetric("min_train_loss", "min train loss", "{:.4f}", "min"),
    ResultMetric("max_val_accuracy", "max validation accuracy", "{:.4f}", "max"),
    ResultMetric("min_val_loss", "min validation loss", "{:.4f}", "min"),
    ResultMetric("test_accuracy", "test accuracy", "{:.2%}", "max"),
    ResultMetric("test_loss", "test loss", "{:.4f}", "min"),
    ResultMetric("epochs", "epochs", "{:d}", None),
    ResultMetric("images_per_s", "images/s (training)", "{:.1f}", "max"),
)
