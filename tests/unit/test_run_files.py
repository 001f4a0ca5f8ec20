"""The run directory of a finished tiny training: files, counts, values (one shared run)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil

import numpy as np
import pytest

from cvd_explorer.errors import RunError
from cvd_explorer.runs import Run, files

from .run_fixtures import TINY, run_cli

pytestmark = pytest.mark.slow


def test_expected_files_and_nothing_else(trained_run):
    top = sorted(p.name for p in trained_run.path.iterdir())
    assert top == sorted([
        "config.json", "history.csv", "last", "log.txt", "manifest.csv", "model.json", "model.keras",
        "predictions.csv", "probes", "status.json", "summary.json", "tensorboard",
    ])  # probes/: new runs record 8 probes by default (issue 12; tests/unit/test_probes.py checks its files)
    assert sorted(p.name for p in (trained_run.path / "last").iterdir()) == ["last.keras", "state.json"]
    assert not list(trained_run.path.rglob("*.tmp*"))


def test_config_json(trained_run, tiny_data):
    meta = json.loads((trained_run.path / "config.json").read_text())
    assert meta["schema_version"] == 1
    assert meta["config"] == TINY.to_dict()
    assert set(meta["versions"]) == {"cvd_explorer", "tensorflow", "keras", "python"}
    assert meta["data_root"] == str(tiny_data)
    assert meta["classes"] == ["cat", "dog"] and meta["positive"] == "dog"
    manifest_bytes = (trained_run.path / "manifest.csv").read_bytes()
    assert manifest_bytes == (tiny_data / "manifest.csv").read_bytes()
    assert meta["manifest"]["sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert meta["distribution"] == {"strategy": "default", "replicas": 1, "per_replica_batch": 4, "global_batch": 4}
    assert trained_run.config == TINY and trained_run.classes == ("cat", "dog") and trained_run.positive == "dog"


def test_history(trained_run):
    lines = (trained_run.path / "history.csv").read_text().splitlines()
    assert lines[0] == ",".join(files.HISTORY_COLUMNS)
    history = trained_run.history
    assert [row["epoch"] for row in history] == [1, 2]
    for row in history:
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["val_accuracy"] <= 1
        assert row["loss"] > 0 and row["val_loss"] > 0 and row["seconds"] > 0 and row["images_per_s"] > 0
        assert row["lr"] == pytest.approx(TINY.lr)
        # accuracy over 3 steps x 4 images and 2 val steps x 4 images is a multiple of 1/12, 1/8
        assert row["accuracy"] * 12 == pytest.approx(round(row["accuracy"] * 12), abs=1e-5)
        assert row["val_accuracy"] * 8 == pytest.approx(round(row["val_accuracy"] * 8), abs=1e-5)
    np.testing.assert_allclose(trained_run.curve("loss"), [r["loss"] for r in history])
    with pytest.raises(RunError, match="no column"):
        trained_run.curve("precision")


def test_best_model_and_state(trained_run):
    info = trained_run.model_info
    history = trained_run.history
    val = [r["val_accuracy"] for r in history]
    assert info["epoch"] == 1 + int(np.argmax(val))  # first maximum: ties keep the earlier epoch
    assert info["val_accuracy"] == pytest.approx(max(val))
    assert info["sha256"] == hashlib.sha256((trained_run.path / "model.keras").read_bytes()).hexdigest()
    state = json.loads((trained_run.path / "last" / "state.json").read_text())
    assert state["epoch"] == 2 and state["evaluated"] == 2 and state["best"]["epoch"] == info["epoch"]


def test_predictions_cover_the_test_split(trained_run):
    manifest = trained_run.manifest
    test_rows = manifest.split_rows("test")
    preds = trained_run.predictions
    assert [p["relpath"] for p in preds] == [r.path for r in test_rows]
    assert [p["label"] for p in preds] == [r.label for r in test_rows]
    header = (trained_run.path / "predictions.csv").read_text().splitlines()[0]
    assert header == "path,label,prob,predicted,correct,loss"
    for p in preds:
        assert 0.0 <= p["prob"] <= 1.0
        assert p["predicted"] == ("dog" if p["prob"] > 0.5 else "cat")
        assert p["correct"] == (p["predicted"] == p["label"])
        y = 1.0 if p["label"] == "dog" else 0.0
        prob = min(max(p["prob"], 1e-7), 1 - 1e-7)
        assert p["loss"] == pytest.approx(-(y * math.log(prob) + (1 - y) * math.log(1 - prob)), rel=1e-6)
        assert p["path"] == str(trained_run.data_root / p["relpath"])
    assert all((trained_run.data_root / p["relpath"]).is_file() for p in preds)


def test_summary(trained_run):
    summary = trained_run.summary
    history, preds = trained_run.history, trained_run.predictions
    assert set(files.SUMMARY_KEYS) <= set(summary)
    assert summary["max_train_accuracy"] == pytest.approx(max(r["accuracy"] for r in history))
    assert summary["min_train_loss"] == pytest.approx(min(r["loss"] for r in history))
    assert summary["max_val_accuracy"] == pytest.approx(max(r["val_accuracy"] for r in history))
    assert summary["min_val_loss"] == pytest.approx(min(r["val_loss"] for r in history))
    assert summary["test_accuracy"] == pytest.approx(np.mean([p["correct"] for p in preds]))
    assert summary["test_loss"] == pytest.approx(np.mean([p["loss"] for p in preds]))
    assert summary["epochs"] == 2 and summary["test_images"] == len(preds)
    assert summary["device"] == "CPU" and summary["synthetic"] is True and summary["images_per_s"] > 0


def test_status_and_log(trained_run):
    status = trained_run.status
    assert status["state"] == "finished" and trained_run.state == "finished"
    assert status["epoch"] == 2 and status["epochs"] == 2 and status["steps_per_epoch"] == 3
    assert status["error"] is None and status["heartbeat"] and status["started"] <= status["updated"]
    log = (trained_run.path / "log.txt").read_text()
    assert "starting: resnet-mini" in log and "epoch 1/2" in log and "epoch 2/2" in log and "finished" in log


def test_tensorboard_scalars_once_per_epoch(trained_run):
    import tensorflow as tf

    seen: dict[tuple[str, str], list[int]] = {}
    for kind in ("train", "validation"):
        for event_file in (trained_run.path / "tensorboard" / kind).iterdir():
            for record in tf.data.TFRecordDataset(str(event_file)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                for value in event.summary.value:
                    assert value.metadata.plugin_data.plugin_name == "scalars"
                    seen.setdefault((kind, value.tag), []).append(event.step)
    assert seen[("train", "epoch_loss")] == [1, 2]
    assert seen[("train", "epoch_accuracy")] == [1, 2]
    assert seen[("validation", "epoch_loss")] == [1, 2]
    assert seen[("validation", "epoch_accuracy")] == [1, 2]


def test_copied_run_with_another_data_root(trained_run, tiny_data, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained_run.path, copy)
    images = tmp_path / "images"
    shutil.copytree(tiny_data, images)
    run = Run(copy, data_root=images)
    assert run.predictions[0]["path"] == str(images / run.predictions[0]["relpath"])
    assert run.image_path("train/cat.0.jpg") == images / "train" / "cat.0.jpg"
    assert run.history == trained_run.history


def test_evaluate_cli_recomputes_the_same_predictions(trained_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained_run.path, copy)
    (copy / "predictions.csv").unlink()
    (copy / "summary.json").unlink()
    assert Run(copy).predictions is None and Run(copy).summary is None
    result = run_cli("evaluate", str(copy))
    assert result.returncode == 0, result.stdout
    assert "test accuracy" in result.stdout
    again, before = Run(copy).predictions, trained_run.predictions
    assert [p["relpath"] for p in again] == [p["relpath"] for p in before]
    np.testing.assert_allclose([p["prob"] for p in again], [p["prob"] for p in before], atol=1e-6)
    assert Run(copy).summary["test_accuracy"] == trained_run.summary["test_accuracy"]


def test_runs_cli_table(trained_run, capsys):
    from cvd_explorer.cli import main

    assert main(["runs", str(trained_run.path.parent)]) == 0
    header, line = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["name", "arch", "state", "epochs", "max_val_acc", "test_acc", "test_loss"]
    cells = line.split()
    assert cells[:4] == ["run", "resnet-mini", "finished", "2/2"]
    assert float(cells[5]) == pytest.approx(trained_run.summary["test_accuracy"], abs=1e-4)


def test_not_a_run(tmp_path):
    with pytest.raises(RunError, match="not a run directory"):
        Run(tmp_path)
    (tmp_path / "config.json").write_text('{"schema_version": 99}')
    with pytest.raises(RunError, match="schema_version 99"):
        _ = Run(tmp_path).meta
