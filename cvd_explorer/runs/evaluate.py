"""Test-split evaluation of a run's best checkpoint: ``predictions.csv`` and ``summary.json``."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.classes import head_units, predicted_indices, probabilities
from cvd_explorer.errors import RunError
from cvd_explorer.runs.folder import is_missing, write_predictions, write_summary
from cvd_explorer.runs.run import Run

# Keras' binary cross-entropy clips probabilities to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7
THRESHOLD = 0.5  # two classes: classes[1] predicted when prob > THRESHOLD, as Keras' binary accuracy


def binary_cross_entropy(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-image binary cross-entropy, float64 ``(N,)``, from labels and P(positive), both ``(N,)``."""
    p = np.clip(probs.astype(np.float64), EPSILON, 1.0 - EPSILON)
    y = labels.astype(np.float64)
    return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def cross_entropy(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-image cross-entropy, float64 ``(N,)``, of int class indices ``(N,)`` under class
    probabilities ``(N, K)``: ``-log p[label]``, clipped as Keras clips. For two classes it equals
    :func:`binary_cross_entropy` of P(classes[1])."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    picked = np.clip(p[np.arange(len(y)), y], EPSILON, 1.0 - EPSILON)
    return np.asarray(-np.log(picked), dtype=np.float64)


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
    outputs = np.asarray(model.predict(ds, verbose=0, callbacks=callbacks), dtype=np.float64)
    outputs = outputs.reshape(len(outputs), -1)
    classes = run.classes
    if outputs.shape[0] != len(rows):
        raise AssertionError(f"predicted {outputs.shape[0]} test images, the manifest lists {len(rows)}")
    if outputs.shape[1] != head_units(len(classes)):
        raise RunError(f"{run.path}: the model has {outputs.shape[1]} outputs for {len(classes)} classes "
                       f"({', '.join(classes)}); retrain it on this manifest")
    labels = np.array([manifest.label_index(row.label) for row in rows], dtype=np.int64)
    probs = probabilities(outputs)
    if len(classes) == 2:  # the seed's columns and numbers, exactly
        positive = outputs[:, 0]
        losses = binary_cross_entropy(labels.astype(np.float64), positive)
        predicted = (positive > THRESHOLD).astype(np.int64)
        shown = positive
    else:
        losses = cross_entropy(labels, probs)
        predicted = predicted_indices(probs)
        shown = probs[np.arange(len(rows)), predicted]
    correct = predicted == labels
    extra = probs if len(classes) > 2 else np.zeros((len(rows), 0))
    write_predictions(
        run.path,
        (
            (row.path, row.label, float(p), classes[int(k)], bool(c), float(loss), *(float(v) for v in ps))
            for row, p, k, c, loss, ps in zip(rows, shown, predicted, correct, losses, extra, strict=True)
        ),
        classes,
    )
    summary = summarize(run, test_accuracy=float(correct.mean()), test_loss=float(losses.mean()))
    summary.update(class_metrics(classes, labels, predicted))
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
