"""Test-split evaluation of a run's best checkpoint: ``predictions.csv`` and ``summary.json``."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.runs.folder import is_missing, write_predictions, write_summary
from cvd_explorer.runs.run import Run

# Keras' binary cross-entropy clips probabilities to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7
THRESHOLD = 0.5  # predicted positive when prob > THRESHOLD, as Keras' binary accuracy


def binary_cross_entropy(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-image binary cross-entropy, float64 ``(N,)``, from labels and P(positive), both ``(N,)``."""
    p = np.clip(probs.astype(np.float64), EPSILON, 1.0 - EPSILON)
    y = labels.astype(np.float64)
    return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def class_metrics(classes: Sequence[str], labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Per-class accuracy and the confusion matrix of a test split, in class order.

    Args:
        classes: the K class names in index order.
        labels: true class index per image, int ``(N,)``.
        predicted: predicted class index per image, int ``(N,)``.

    Returns:
        ``{"classes": [...K names], "per_class_accuracy": {class: accuracy or None when the class
        has no test image}, "confusion_matrix": K x K int lists}``, where row i is the true class
        i and column j the predicted class j; the trace over the total is the accuracy.
    """
    k = len(classes)
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    p = np.asarray(predicted, dtype=np.int64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} differ in length")
    if y.size and (min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= k):
        raise ValueError(f"class indices must lie in 0..{k - 1} for the classes {list(classes)}")
    matrix = np.bincount(y * k + p, minlength=k * k).reshape(k, k)
    totals = matrix.sum(axis=1)
    per_class = {
        str(name): (float(matrix[i, i] / totals[i]) if totals[i] else None) for i, name in enumerate(classes)
    }
    return {
        "classes": [str(name) for name in classes],
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.astype(int).tolist(),
    }


def evaluate_run(
    run_dir: str | os.PathLike[str],
    data_root: str | os.PathLike[str] | None = None,
    callbacks: list[Any] | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Predict the test split with ``model.keras`` and write ``predictions.csv`` and ``summary.json``.

    Args:
        run_dir: the run directory.
        data_root: image folder if not the recorded one (a copied run).
        callbacks: Keras callbacks for ``predict`` (stop checks and heartbeat while training).
        batch_size: prediction batch (default: the run's batch size).

    Returns:
        The summary dict written to ``summary.json``.
    """
    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset

    run = Run(run_dir, data_root=data_root)
    config = run.config
    manifest = run.manifest
    model = run.load_model()
    rows = manifest.split_rows("test")
    ds = make_dataset(
        manifest, "test", config.image_size, batch_size or config.batch_size,
        DatasetOptions(data_root=run.data_root, repeat=False),
    )
    probs = np.asarray(model.predict(ds, verbose=0, callbacks=callbacks), dtype=np.float64).reshape(-1)
    if probs.shape[0] != len(rows):
        raise AssertionError(f"predicted {probs.shape[0]} test images, the manifest lists {len(rows)}")
    labels = np.array([manifest.label_index(row.label) for row in rows], dtype=np.float64)
    losses = binary_cross_entropy(labels, probs)
    predicted = (probs > THRESHOLD).astype(np.int64)
    correct = predicted == labels.astype(np.int64)
    classes = run.classes
    write_predictions(
        run.path,
        (
            (row.path, row.label, float(p), classes[int(k)], bool(c), float(loss))
            for row, p, k, c, loss in zip(rows, probs, predicted, correct, losses, strict=True)
        ),
    )
    summary = summarize(run, test_accuracy=float(correct.mean()), test_loss=float(losses.mean()))
    summary.update(class_metrics(classes, labels.astype(np.int64), predicted))
    write_summary(run.path, summary)
    return summary


def summarize(run: Run, test_accuracy: float | None, test_loss: float | None) -> dict[str, Any]:
    """The reference study's table from a run's history plus test figures (without the
    :func:`class_metrics`, which :func:`evaluate_run` adds)."""
    history = run.history

    def pick(column: str, fn: Callable[[list[float]], float]) -> float | None:
        values = [row[column] for row in history if not is_missing(row[column])]
        return float(fn(values)) if values else None

    rates = [row["images_per_s"] for row in history if not is_missing(row["images_per_s"])]
    return {
        "max_train_accuracy": pick("accuracy", max),
        "min_train_loss": pick("loss", min),
        "max_val_accuracy": pick("val_accuracy", max),
        "min_val_loss": pick("val_loss", min),
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "test_images": len(run.manifest.split_rows("test")),
        "best_epoch": (run.model_info or {}).get("epoch"),
        "epochs": len(history),
        "images_per_s": round(statistics.median(rates), 2) if rates else None,
        "device": run.meta.get("device"),
        "synthetic": (Path(run.data_root) / "synthetic.json").is_file(),
    }
