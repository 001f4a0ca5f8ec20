"""`cvd-explorer import` on small models built here: a functional model with its own Rescaling and a
linear logits head (binary and 10 classes), and every bad input refused with one line, exit 2 and
nothing left in --out."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from cvd_explorer.cli import main
from cvd_explorer.data.loader import load_image
from cvd_explorer.runs import Run
from tests.import_fixtures import import_cli, rescaling_logits
from tests.kclass_fixtures import digits_folder


@pytest.fixture(scope="module")
def binary_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two class folders ``cat`` and ``dog`` (bars at two angles), not split yet."""
    return digits_folder(tmp_path_factory.mktemp("binary") / "data", per_class=10, classes=("cat", "dog"))


def _test_images(run: Run) -> np.ndarray:
    size = run.config.image_size
    rows = run.manifest.split_rows("test")
    return np.stack([load_image(run.image_path(r.path), size=(size, size)) for r in rows]).astype(np.float32)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def test_binary_logits_model_with_its_own_rescaling(binary_data: Path, tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = rescaling_logits(1)
    out = tmp_path / "run"
    assert import_cli(model, out, "--data", str(binary_data)) == 0
    assert (binary_data / "manifest.csv").is_file()  # split first, as `split` does
    run = Run(out)
    assert run.meta["imported"]["head"] == "logits" and run.meta["imported"]["preprocess"] == "none"
    assert run.classes == ("cat", "dog") and run.positive == "dog"
    x = _test_images(run)
    z = np.asarray(model.predict(x, verbose=0))[:, 0]
    probs = np.array([p["prob"] for p in run.predictions or []])
    np.testing.assert_allclose(probs, _sigmoid(z), atol=1e-5)
    assert [p["predicted"] for p in run.predictions or []] == ["dog" if v > 0 else "cat" for v in z]

    from cvd_explorer.explain import predict_logits
    from cvd_explorer.explain.activations import head_of

    wrapped = run.load_model()
    assert head_of(wrapped).kind == "activation"  # the logits are the user's output, not recovered from p
    np.testing.assert_allclose(predict_logits(wrapped, x)[:, 0], z, atol=1e-4)


def test_ten_class_logits_model(digits_data: Path, tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    model = rescaling_logits(10)
    out = tmp_path / "run"
    assert import_cli(model, out, "--data", str(digits_data), "--classes", ",".join(str(i) for i in range(10))) == 0
    run = Run(out)
    logits = np.asarray(model.predict(_test_images(run), verbose=0), np.float64)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.array([p["probs"] for p in run.predictions or []]), softmax, atol=1e-5)
    from cvd_explorer.explore.session import Session

    assert Session.from_run(run).layer_sets["conv"] == ("first_conv", "last_conv")


def _refused(capsys: pytest.CaptureFixture[str], args: list[str], out: Path) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    return err


@keras.saving.register_keras_serializable(package="import_tests")
class Subclassed(keras.Model):  # type: ignore[misc]
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dense = keras.layers.Dense(1, activation="sigmoid")

    def call(self, x: object) -> object:
        return self.dense(self.pool(self.conv(x)))


def _two_outputs() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    return keras.Model(inputs, [keras.layers.Dense(1, activation="sigmoid", name="animal")(x),
                                keras.layers.Dense(4, name="box")(x)])


def test_bad_inputs_are_refused_in_one_line(binary_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    out = tmp_path / "run"
    data = ["--data", str(binary_data)]

    sub = Subclassed()
    sub(np.zeros((1, 32, 32, 3), np.float32))
    sub.save(tmp_path / "sub.keras")
    err = _refused(capsys, ["import", str(tmp_path / "sub.keras"), "--out", str(out), *data], out)
    assert "sub.keras is a subclassed model" in err and "no functional graph" in err

    _two_outputs().save(tmp_path / "two.keras")
    err = _refused(capsys, ["import", str(tmp_path / "two.keras"), "--out", str(out), *data], out)
    assert "two.keras" in err and "2 outputs (animal, box)" in err and "--output NAME" in err

    flat = keras.Sequential([keras.Input((20,)), keras.layers.Dense(1, activation="sigmoid")])
    flat.save(tmp_path / "flat.keras")
    err = _refused(capsys, ["import", str(tmp_path / "flat.keras"), "--out", str(out), *data], out)
    assert "flat.keras" in err and "(N, 20)" in err and "not an RGB image batch" in err

    flat.save(tmp_path / "old.h5")
    err = _refused(capsys, ["import", str(tmp_path / "old.h5"), "--out", str(out), *data], out)
    assert "old.h5 is a Keras 2" in err and "tf-keras" in err and "model.save('model.keras')" in err

    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 not really a zip")
    err = _refused(capsys, ["import", str(tmp_path / "broken.keras"), "--out", str(out), *data], out)
    assert "broken.keras is not a Keras .keras file" in err

    rescaling_logits(3).save(tmp_path / "three.keras")
    err = _refused(capsys, ["import", str(tmp_path / "three.keras"), "--out", str(out), *data], out)
    assert "3 outputs" in err and "the 2 classes (cat, dog) need one sigmoid unit" in err


def test_two_outputs_with_output_named(binary_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert import_cli(_two_outputs(), out, "--data", str(binary_data), "--output", "animal") == 0
    run = Run(out)
    assert run.meta["imported"]["output"] == "animal" and run.meta["imported"]["head"] == "probabilities"
    assert len(run.predictions or []) == len(run.manifest.split_rows("test"))


def test_an_existing_folder_is_left_as_it_was(binary_data: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rescaling_logits(1).save(tmp_path / "m.keras")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert main(["import", str(tmp_path / "m.keras"), "--data", str(binary_data), "--out", str(out)]) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "my notes"


def test_training_refuses_an_imported_run(binary_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    out = tmp_path / "run"
    assert import_cli(rescaling_logits(1), out, "--data", str(binary_data)) == 0
    capsys.readouterr()
    before = sorted(p.name for p in out.iterdir())
    args = ["train", "--data", str(binary_data), "--out", str(out), "--arch", "resnet-mini", "--image-size", "32"]
    assert main([*args, "--resume"]) == 2
    assert "holds an imported model (cvd-explorer import), not a training to resume" in capsys.readouterr().err
    assert main(args) == 2
    assert sorted(p.name for p in out.iterdir()) == before


def test_an_in_memory_model_wrapped_for_the_explorer() -> None:
    from cvd_explorer.explore.session import Session
    from cvd_explorer.runs.imported_model import as_classifier

    keras.utils.set_random_seed(2)
    model = rescaling_logits(1)
    x = np.random.default_rng(0).uniform(0, 255, (6, 32, 32, 3)).astype(np.float32)
    z = np.asarray(model.predict(x, verbose=0))[:, 0]
    session = Session.from_arrays(as_classifier(model), x, labels=[0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose([row.prob for row in session.rows], _sigmoid(z), atol=1e-5)
    assert session.layer_sets["conv"] == ("first_conv", "last_conv")


def test_any_size_input_with_size_preprocess_and_head_given(binary_data: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="only_conv")(inputs))
    model = keras.Model(inputs, keras.layers.Reshape((1,))(keras.layers.Dense(1)(x)))  # head: not told by its layer
    model.save(tmp_path / "any.keras")
    out = tmp_path / "run"
    args = ["import", str(tmp_path / "any.keras"), "--data", str(binary_data), "--out", str(out)]
    assert "give the input size with --size S" in _refused(capsys, args, out)
    assert "--head probabilities or --head logits" in _refused(capsys, [*args, "--size", "32"], out)
    assert main([*args, "--size", "32", "--head", "logits", "--preprocess", "scale"]) == 0
    run = Run(out)
    assert run.meta["imported"] | {"source": None} == {"source": None, "head": "logits", "preprocess": "scale",
                                                        "input_size": 32, "output": None}
    x = _test_images(run)
    z = np.asarray(model.predict(x / 255.0, verbose=0))[:, 0]
    np.testing.assert_allclose([p["prob"] for p in run.predictions or []], _sigmoid(z), atol=1e-5)


def test_lambda_layers_are_refused(binary_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(x)))
    model.save(tmp_path / "lam.keras")
    out = tmp_path / "run"
    err = _refused(capsys, ["import", str(tmp_path / "lam.keras"), "--data", str(binary_data), "--out", str(out)], out)
    assert "lam.keras contains a Lambda layer" in err


@pytest.mark.slow  # EfficientNetB0: up to a minute to build, save, import and inspect on 2 busy cores
def test_nested_efficientnet_with_its_own_preprocessing(binary_data: Path, tmp_path: Path) -> None:
    from cvd_explorer.explore.session import Session

    keras.utils.set_random_seed(4)
    backbone = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3))
    model = keras.Sequential([keras.Input((32, 32, 3)), backbone, keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    out = tmp_path / "run"
    assert import_cli(model, out, "--data", str(binary_data)) == 0
    run = Run(out)
    assert run.meta["imported"]["preprocess"] == "none" and run.meta["imported"]["head"] == "probabilities"
    expected = np.asarray(model.predict(_test_images(run), verbose=0))[:, 0]
    np.testing.assert_allclose([p["prob"] for p in run.predictions or []], expected, atol=1e-5)
    convs = tuple(layer.name for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D))
    assert len(convs) > 30 and Session.from_run(run).layer_sets["conv"] == convs
