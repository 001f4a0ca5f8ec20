"""An imported nested ResNet50 (``imported_digits_run``) is a first-class run: its files, Grad-CAM through
the nested backbone against a GradientTape reference, the Explorer's layer list, the atlas, Compare."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from cvd_explorer.classes import prob_columns
from cvd_explorer.data.loader import load_image
from cvd_explorer.errors import RunError
from cvd_explorer.layers import CaffePreprocess
from cvd_explorer.runs import Run
from cvd_explorer.runs.imported_meta import NO_HISTORY
from tests.import_fixtures import NESTED_SIZE


@pytest.fixture(scope="module")
def run(imported_digits_run: Path) -> Run:
    return Run(imported_digits_run)


def _images(run: Run, n: int) -> np.ndarray:
    rows = run.manifest.split_rows("test")[:n]
    return np.stack([load_image(run.image_path(r.path), size=(NESTED_SIZE, NESTED_SIZE)) for r in rows]).astype(
        np.float32)


def test_the_run_folder_records_the_import(run: Run, digits_run: Path) -> None:
    names = {p.name for p in run.path.iterdir()}
    assert {"config.json", "manifest.csv", "model.keras", "model.json", "predictions.csv", "summary.json"} <= names
    assert "history.csv" not in names and not any(n.startswith(".") for n in run.path.parent.iterdir() if
                                                  n.name.startswith(f".{run.name}"))
    imported = run.meta["imported"]
    assert imported["head"] == "probabilities" and imported["preprocess"] == "caffe"
    assert imported["input_size"] == NESTED_SIZE and imported["output"] is None
    source = Path(imported["source"]).read_bytes()
    assert run.model_info is not None and run.model_info["sha256"] == hashlib.sha256(source).hexdigest()
    assert (run.path / "model.keras").read_bytes() == source
    assert (run.path / "manifest.csv").read_bytes() == (digits_run / "manifest.csv").read_bytes()
    assert run.classes == tuple(str(i) for i in range(10))
    config = run.config
    assert (config.arch, config.image_size, config.epochs) == ("imported", NESTED_SIZE, 0)
    assert run.history == [] and run.state == "finished" and run.imported and not Run(digits_run).imported
    assert NO_HISTORY == "imported model, no training history"


def test_predictions_are_the_wrapped_models_softmax(run: Run) -> None:
    predictions = run.predictions
    assert predictions is not None and len(predictions) == len(run.manifest.split_rows("test")) == 20
    header = (run.path / "predictions.csv").read_text().splitlines()[0].split(",")
    assert header[-10:] == list(prob_columns(run.classes))
    x = _images(run, 5)
    model = run.load_model()
    probs = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.array([p["probs"] for p in predictions[:5]]), probs, atol=1e-4)
    summary = run.summary
    assert summary is not None and summary["epochs"] == 0 and summary["best_epoch"] is None
    assert summary["test_images"] == 20 and len(summary["confusion_matrix"]) == 10


def test_gradcam_through_the_nested_backbone_equals_a_tape_reference(run: Run) -> None:
    from cvd_explorer.explain import compute_cams

    model = run.load_model()
    inner = next(layer for layer in model.layers if isinstance(layer, keras.Sequential))
    backbone, dense = inner.layers[0], inner.layers[-1]
    last = [layer.name for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    x = _images(run, 8)
    maps = compute_cams(model, x, layers=[last], method="gradcam", normalize=False, size="native")[last]

    probe = keras.Model(backbone.inputs, [backbone.get_layer(last).output, backbone.output])
    import tensorflow as tf

    with tf.GradientTape() as tape:
        acts, features = probe(CaffePreprocess()(tf.constant(x)), training=False)
        logits = tf.matmul(tf.reduce_mean(features, axis=(1, 2)), dense.kernel) + dense.bias
        score = tf.reduce_sum(logits * tf.one_hot(tf.argmax(logits, axis=-1), 10))
    grads = tape.gradient(score, acts)
    reference = np.sum(np.mean(grads, axis=(1, 2), keepdims=True) * acts, axis=-1)
    assert maps.shape == reference.shape == (8, 2, 2)
    assert reference.std() > 0
    corr = np.corrcoef(maps.ravel(), reference.ravel())[0, 1]
    assert corr >= 0.99, corr


def test_every_nested_conv_layer_is_in_the_explorers_layer_list(run: Run) -> None:
    from cvd_explorer.explore.session import Session

    session = Session.from_run(run)
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(NESTED_SIZE, NESTED_SIZE, 3))
    convs = [layer.name for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 53 and session.layer_sets["conv"] == tuple(convs)
    assert len(session.layer_sets["blocks"]) == 16 and session.layer_sets["blocks"][-1] == "conv5_block3_out"
    explanation = session.explain(session.rows[0], "gradcam", "predicted", "blocks")
    assert explanation is not None


def test_the_atlas_of_an_imported_run_computes(imported_binary_run: Path) -> None:
    from cvd_explorer.atlas import compute_atlas

    run = Run(imported_binary_run)
    assert run.meta["imported"]["preprocess"] == "tf"  # guessed from the nested MobileNetV2
    atlas = compute_atlas(run)
    backbone = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35, input_shape=(32, 32, 3))
    convs = [layer.name for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
    assert atlas.layers == convs and len(atlas.rows) == len(run.manifest.split_rows("test")) > 10
    predicted = {p["relpath"]: p["predicted"] for p in run.predictions or []}
    assert all(row.prediction == predicted[row.path] for row in atlas.rows)
    assert json.loads((atlas.folder / "atlas.json").read_text())["state"] == "complete"
    from cvd_explorer.widgets.atlas import Atlas

    panel = Atlas(imported_binary_run, tabs=True, background=False)  # the page `cvd-explorer serve RUN` shows
    assert sorted(panel.points) == sorted(str(run.image_path(row.path)) for row in atlas.rows)
    assert panel.explorer is not None


def test_compare_opens_on_a_trained_and_an_imported_run(imported_binary_run: Path, run_dir: Path) -> None:
    from cvd_explorer.widgets.compare import Compare

    panel = Compare(run_dir, imported_binary_run, background=False)
    n = len(Run(run_dir).manifest.split_rows("test"))
    assert panel.pairing is not None and len(panel.pairing.pairs) == n
    assert "imported" in panel.sides[1].title.value  # "(imported, 32 px)"
    assert f"{Run(imported_binary_run).name}: {NO_HISTORY}" in panel.notice.value
    assert NO_HISTORY not in Compare(run_dir, run_dir, background=False).notice.value


def test_explorer_and_report_on_an_imported_run(imported_binary_run: Path, run_dir: Path,
                                                              tmp_path: Path) -> None:
    from cvd_explorer.cli import main
    from cvd_explorer.widgets.explorer import Explorer

    explorer = Explorer(imported_binary_run, background=False)
    assert explorer.session is not None and len(explorer.session.rows) == len(Run(run_dir).manifest.split_rows("test"))
    out = tmp_path / "report"
    assert main(["report", str(run_dir), str(imported_binary_run), "--out", str(out), "--samples", "1",
                 "--no-metrics"]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count(NO_HISTORY) == 2  # the imported run's own section and the comparison
    assert "comparison-curves" in page  # the trained run's curves are still drawn


def test_training_panel_on_an_imported_run_says_there_is_no_history(imported_binary_run: Path) -> None:
    from cvd_explorer.config import TrainConfig
    from cvd_explorer.widgets import TrainingPanel

    with pytest.raises(RunError, match=f"holds an {NO_HISTORY}"):
        TrainingPanel(imported_binary_run, background=False)
    panel = TrainingPanel(TrainConfig(arch="resnet-mini", image_size=32), out=imported_binary_run, background=False)
    snap = panel.refresh()
    from cvd_explorer.render_curves import curves_png

    title = f"{Path(imported_binary_run).name}: {NO_HISTORY}"
    assert len(snap.history) == 0 and panel.curves_image.value == curves_png((), title=title)


def test_compare_opens_on_a_trained_and_an_imported_ten_class_run(run: Run, digits_run: Path) -> None:
    from cvd_explorer.widgets.compare import Compare

    panel = Compare(digits_run, run.path, background=False)
    assert panel.pairing is not None and len(panel.pairing.pairs) == len(run.manifest.split_rows("test")) == 20
    assert f"{run.name}: {NO_HISTORY}" in panel.notice.value
