"""summary.json's classes, per_class_accuracy and confusion_matrix (runs.evaluate.class_metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.runs.evaluate import class_metrics


def test_three_classes_rows_true_columns_predicted():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2])
    out = class_metrics(("10", "2", "x"), labels, predicted)
    assert list(out) == ["classes", "per_class_accuracy", "confusion_matrix"]
    assert out["classes"] == ["10", "2", "x"]
    assert out["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert all(type(v) is int for row in out["confusion_matrix"] for v in row)
    assert out["per_class_accuracy"] == pytest.approx({"10": 2 / 3, "2": 1 / 2, "x": 3 / 4})
    matrix = np.array(out["confusion_matrix"])
    assert np.trace(matrix) / matrix.sum() == pytest.approx(np.mean(labels == predicted))
    assert matrix.sum(axis=1).tolist() == np.bincount(labels).tolist()


def test_a_class_without_test_images_has_no_accuracy():
    out = class_metrics(("cat", "dog"), np.array([1, 1]), np.array([0, 1]))
    assert out["per_class_accuracy"] == {"cat": None, "dog": 0.5}
    assert out["confusion_matrix"] == [[0, 0], [1, 1]]


def test_indices_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match="0..1"):
        class_metrics(("cat", "dog"), np.array([0, 2]), np.array([0, 1]))


@pytest.mark.slow
def test_binary_run_summary_has_the_class_metrics(trained_run):
    summary, preds = trained_run.summary, trained_run.predictions
    classes = list(trained_run.classes)
    assert summary["classes"] == classes == ["cat", "dog"]
    matrix = np.array(summary["confusion_matrix"])
    assert matrix.shape == (2, 2) and matrix.sum() == summary["test_images"] == len(preds)
    for i, true in enumerate(classes):
        for j, guess in enumerate(classes):
            assert matrix[i, j] == sum(1 for p in preds if p["label"] == true and p["predicted"] == guess)
        rows = [p for p in preds if p["label"] == true]
        assert summary["per_class_accuracy"][true] == pytest.approx(np.mean([p["correct"] for p in rows]))
    assert np.trace(matrix) / matrix.sum() == pytest.approx(summary["test_accuracy"])
