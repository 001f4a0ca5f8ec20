"""Bad inputs are shown in the panel, never raised, and the rest of the panel keeps working."""

from __future__ import annotations

import os
import shutil
import socket
from datetime import datetime, timezone

import keras
import pytest

from cvd_explorer.fileio import write_json
from cvd_explorer.runs.run import Run
from cvd_explorer.widgets import Explorer
from tests.widgets.helpers import random_images


def copy_run(run_dir, dest, without=("predictions.csv",)):
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns(*without))
    return dest


def test_missing_run_folder(tmp_path):
    ex = Explorer(tmp_path / "no-such-run", background=False)
    assert "is not a run directory" in ex.error.value
    assert ex.samples == [] and ex.sample is None
    assert ex.layer.disabled and ex.filter.disabled


def test_run_without_predictions_says_how_to_get_them(run_dir, tmp_path):
    copy = copy_run(run_dir, tmp_path / "run")
    ex = Explorer(copy, background=False)
    assert "no predictions yet" in ex.error.value and "cvd-explorer evaluate" in ex.error.value
    assert ex.samples == []
    shutil.copy(run_dir / "predictions.csv", copy / "predictions.csv")
    ex.reload_button.click()  # the panel recovers once predictions exist
    assert ex.error.value == "" and len(ex.samples) == len(Run(run_dir).predictions)


def test_run_in_training_says_so(run_dir, tmp_path):
    copy = copy_run(run_dir, tmp_path / "run")
    now = datetime.now(timezone.utc).isoformat()
    write_json(copy / "status.json", {"state": "running", "pid": os.getpid(), "host": socket.gethostname(),
                                      "heartbeat": now, "epoch": 1, "epochs": 5})
    ex = Explorer(copy, background=False)
    assert "training in progress" in ex.error.value and "epoch 1/5" in ex.error.value


def test_broken_image_shows_badge_and_loader_message(run_dir, tmp_path):
    run = Run(run_dir)
    data = tmp_path / "data"
    shutil.copytree(run.data_root, data)
    first = sorted(run.predictions, key=lambda r: r["relpath"].rsplit("/", 1)[-1])[0]
    (data / first["relpath"]).write_bytes(b"not an image at all")
    ex = Explorer(run_dir, data_root=data, background=False)
    broken = str(data / first["relpath"])
    assert ex.samples[0] == broken and ex.sample == broken
    assert ex.gallery.cells[0][1].description.startswith("⚠ broken")
    assert "cannot" in ex.error.value or "not" in ex.error.value  # the loader's reason, shown not raised
    assert bytes(ex.cam_image.value) == b""
    ex.sample = ex.samples[1]  # the rest keeps working
    assert ex.error.value == ""
    assert len(bytes(ex.cam_image.value)) > 0
    ex.sample = broken
    assert ex.error.value != ""


def test_model_without_conv_layers(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(1, "sigmoid")])
    ex = Explorer(model=model, images=random_images(6), labels=[0, 1] * 3, background=False)
    assert "has no Conv2D layers" in ex.error.value
    assert ex.layer.disabled
    assert ex.count.value and len(ex.samples) == 6  # gallery, filters and prediction still work
    ex.filter.value = "misclassified"
    assert "misclassified of 6" in ex.count.value
    assert "p(dog)" in ex.prediction.value


def test_callback_exception_is_shown_not_raised(model32, monkeypatch):
    ex = Explorer(model=model32, images=random_images(4), labels=[0, 1, 0, 1], background=False)
    from cvd_explorer.explore import views

    def boom(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(views, "feature_view", boom)
    ex.top_k.value = 3  # must not raise
    assert "RuntimeError: renderer exploded" in ex.error.value
    monkeypatch.undo()
    ex.top_k.value = 5
    ex.sample = ex.samples[1]
    assert ex.error.value == "" and len(bytes(ex.feature_image.value)) > 0


def test_bad_arguments_are_shown(model32):
    ex = Explorer(background=False)
    assert "nothing to explore" in ex.error.value
    ex = Explorer(model=model32, images=random_images(2)[0], background=False)
    assert "(N, H, W, 3)" in ex.error.value
    with pytest.raises(ValueError):
        ex.sample = "x"
