"""K > 2 classes through training: the softmax head, the loss with label smoothing, predictions.csv
with one probability per class, summary.json's confusion matrix, and Run's view of them."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cvd_explorer.errors import ModelError, RunError
from tests.kclass_fixtures import DIGIT_CLASSES


def test_build_gives_one_sigmoid_unit_for_two_classes_and_a_softmax_for_more():
    from cvd_explorer.models import build

    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    binary, ten = build("resnet-mini", 32), build("resnet-mini", 32, classes=10)
    assert binary.outputs[0].shape[-1] == 1 and binary.get_layer("predictions").activation.__name__ == "sigmoid"
    probs = np.asarray(ten(x))
    assert probs.shape == (3, 10) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ModelError, match="at least 2 classes, got 1"):
        build("resnet-mini", 32, classes=1)


def test_smoothed_sparse_crossentropy_equals_keras_categorical_crossentropy_on_one_hot_labels():
    import keras

    from cvd_explorer.layers import SmoothedSparseCrossentropy

    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 5)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([0, 4, 2, 2, 1, 3], dtype=np.float32)  # as the input pipeline gives them
    one_hot = np.eye(5, dtype=np.float32)[labels.astype(int)]
    for smoothing in (0.0, 0.1, 0.3):
        ours = float(SmoothedSparseCrossentropy(smoothing)(labels, probs))
        keras_loss = float(keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)(one_hot, probs))
        assert ours == pytest.approx(keras_loss, rel=1e-5)
    plain = float(keras.losses.SparseCategoricalCrossentropy()(labels, probs))
    assert float(SmoothedSparseCrossentropy(0.0)(labels, probs)) == pytest.approx(plain, rel=1e-5)
    restored = SmoothedSparseCrossentropy.from_config(SmoothedSparseCrossentropy(0.2).get_config())
    assert restored.label_smoothing == 0.2


def test_label_smoothing_is_a_validated_config_field():
    from cvd_explorer.config import TrainConfig
    from cvd_explorer.errors import ConfigError

    assert TrainConfig().label_smoothing == 0.0
    assert TrainConfig.from_dict({"label_smoothing": 0}).label_smoothing == 0.0
    with pytest.raises(ConfigError, match=r"label_smoothing must be a number in \[0, 1\), got 1.5"):
        TrainConfig(label_smoothing=1.5)


def test_cross_entropy_of_two_columns_equals_the_binary_cross_entropy():
    from cvd_explorer.classes import probabilities
    from cvd_explorer.runs.evaluate import binary_cross_entropy, cross_entropy

    p = np.array([0.1, 0.7, 0.5, 1.0, 0.0])
    y = np.array([0, 1, 1, 0, 1])
    assert np.allclose(cross_entropy(y, probabilities(p)), binary_cross_entropy(y.astype(float), p))


def test_ten_class_run_writes_ten_probabilities_per_row_and_the_confusion_matrix(digits_run):
    from cvd_explorer.runs import Run

    with open(digits_run / "predictions.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        rows = list(reader)
    columns = [f"p_{c}" for c in DIGIT_CLASSES]
    assert header == ["path", "label", "prob", "predicted", "correct", "loss", *columns]
    probs = np.array([[float(r[c]) for c in columns] for r in rows])
    assert probs.shape == (len(rows), 10) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    predicted = probs.argmax(axis=1)
    assert [r["predicted"] for r in rows] == [DIGIT_CLASSES[k] for k in predicted]
    assert np.allclose([float(r["prob"]) for r in rows], probs.max(axis=1))
    labels = np.array([DIGIT_CLASSES.index(r["label"]) for r in rows])
    assert np.allclose([float(r["loss"]) for r in rows], -np.log(np.clip(probs[np.arange(len(rows)), labels],
                                                                         1e-7, 1 - 1e-7)), rtol=1e-6)

    summary = json.loads((digits_run / "summary.json").read_text())
    matrix = np.array(summary["confusion_matrix"])
    assert summary["classes"] == list(DIGIT_CLASSES) and matrix.shape == (10, 10)
    assert matrix.sum() == len(rows) == summary["test_images"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(summary["test_accuracy"])
    for k, name in enumerate(DIGIT_CLASSES):
        in_class = labels == k
        expected = float((predicted[in_class] == k).mean()) if in_class.any() else None
        assert summary["per_class_accuracy"][name] == pytest.approx(expected)

    run = Run(digits_run)
    assert run.classes == DIGIT_CLASSES
    with pytest.raises(RunError, match="10 classes: a K-class run has no positive class"):
        _ = run.positive
    predictions = run.predictions
    assert predictions is not None and np.allclose([p["probs"] for p in predictions], probs)
    assert run.load_model().outputs[0].shape[-1] == 10


def test_label_smoothing_run_is_recorded_and_its_checkpoints_load_in_safe_mode(digits_run_b):
    from cvd_explorer.runs import Run
    from cvd_explorer.runs.safe_load import load_model_file

    run = Run(digits_run_b)
    assert run.config.label_smoothing == 0.1
    resumable = load_model_file(digits_run_b / "last" / "last.keras", compile=True)
    assert type(resumable.loss).__name__ == "SmoothedSparseCrossentropy" and resumable.loss.label_smoothing == 0.1


def test_binary_runs_keep_their_predictions_columns(run_dir):
    with open(run_dir / "predictions.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["path", "label", "prob", "predicted", "correct", "loss"]
    from cvd_explorer.runs import Run

    run = Run(run_dir)
    assert run.positive == run.classes[1]
    row = run.predictions[0]
    assert row["probs"] == pytest.approx((1 - row["prob"], row["prob"]))


def test_probes_take_an_equal_share_of_each_of_the_k_classes(digits_data):
    from cvd_explorer.data.split import read_manifest
    from cvd_explorer.runs.probes import choose_probes

    manifest = read_manifest(digits_data / "manifest.csv")
    test_counts = {c: sum(r.label == c for r in manifest.split_rows("test")) for c in DIGIT_CLASSES}
    picked = choose_probes(manifest, 12, seed=0)
    assert len({r.path for r in picked}) == 12
    assert [r.label for r in picked[:10]] == list(DIGIT_CLASSES)  # classes alternate in class order
    labels = [r.label for r in picked]
    assert all(labels.count(c) <= min(2, test_counts[c]) for c in DIGIT_CLASSES)
    everything = choose_probes(manifest, 1000, seed=0)
    assert len(everything) == sum(test_counts.values())
    assert choose_probes(manifest, 12, seed=0) == picked
