"""Run.load_model: safe mode only, recorded sha256, refusals of .h5, Lambda and unknown objects."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from cvd_explorer.errors import RunError
from cvd_explorer.runs import Run
from cvd_explorer.runs.safe_load import check_model_config, load_model_file

REPO = Path(__file__).resolve().parents[2]


def _tiny_model(*middle) -> keras.Model:
    inputs = keras.Input((4,))
    x = inputs
    for layer in middle:
        x = layer(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


@keras.saving.register_keras_serializable(package="somebody_else")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return 2 * x


@pytest.mark.slow
def test_load_model_reproduces_the_predictions(trained_run):
    from cvd_explorer.data.loader import load_image

    model = trained_run.load_model()
    preds = trained_run.predictions[:4]
    size = trained_run.config.image_size
    images = np.stack([load_image(p["path"], size=(size, size)) for p in preds]).astype("float32")
    probs = model.predict(images, verbose=0).reshape(-1)
    np.testing.assert_allclose(probs, [p["prob"] for p in preds], atol=1e-5)


@pytest.mark.slow
def test_changed_model_file_is_refused(trained_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained_run.path, copy)
    _tiny_model().save(copy / "model.keras")  # a valid model, but not the recorded one
    with pytest.raises(RunError, match="changed since the run recorded it"):
        Run(copy).load_model()
    (copy / "model.keras").unlink()
    with pytest.raises(RunError, match="no model yet"):
        Run(copy).load_model()


def test_h5_whole_model_files_are_refused(tmp_path):
    path = tmp_path / "model.h5"
    _tiny_model().save(path)
    with pytest.raises(RunError, match="legacy HDF5"):
        load_model_file(path)
    disguised = tmp_path / "model.keras"
    shutil.copy(path, disguised)  # HDF5 content under a .keras name
    with pytest.raises(RunError, match="legacy HDF5"):
        load_model_file(disguised)


def test_lambda_layers_are_refused_before_loading(tmp_path, monkeypatch):
    path = tmp_path / "lambda.keras"
    _tiny_model(keras.layers.Lambda(lambda x: x + 1, name="plus_one")).save(path)
    called = []
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: called.append(a))
    with pytest.raises(RunError, match="Lambda layer \\('plus_one'\\)"):
        load_model_file(path)
    assert called == []  # refused before Keras deserialised anything


def test_unknown_custom_objects_are_refused(tmp_path):
    path = tmp_path / "custom.keras"
    _tiny_model(Doubler(name="double")).save(path)
    with pytest.raises(RunError, match="unknown custom object 'somebody_else>Doubler'"):
        load_model_file(path)


def test_custom_functions_are_refused(tmp_path):
    path = tmp_path / "fn.keras"
    config = {"module": "keras", "class_name": "Functional", "config": {"layers": [
        {"module": "keras.layers", "class_name": "Dense", "config": {
            "activation": {"module": "evil", "class_name": "function", "config": "run", "registered_name": "function"}
        }}
    ]}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    with pytest.raises(RunError, match="unknown custom object 'evil.run'"):
        load_model_file(path)


def test_the_toolkits_own_layer_is_allowed(tmp_path):
    from cvd_explorer.layers import CaffePreprocess

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(CaffePreprocess()(inputs))))
    path = tmp_path / "caffe.keras"
    model.save(path)
    loaded = load_model_file(path)
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_not_a_keras_archive(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RunError, match="not a zip archive"):
        load_model_file(bad)
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("other.txt", "x")
    with pytest.raises(RunError, match="no config.json inside"):
        check_model_config(bad.read_bytes(), "model.keras")


def test_unsafe_deserialization_is_never_enabled():
    sources = "\n".join(p.read_text() for p in (REPO / "cvd_explorer").rglob("*.py"))
    assert "enable_unsafe_deserialization" not in sources
    assert "safe_mode=False" not in sources
