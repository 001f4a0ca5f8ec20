"""Resume after SIGKILL at several points: the run ends as an uninterrupted one would.

Tolerance: the resumed run sees the same data stream and restores weights and optimizer state
(SGD momentum, iteration count) exactly, so its per-epoch losses and accuracies must equal the
uninterrupted run's to rtol 1e-4 (float32 CPU kernels; observed differences are ~1e-7 or zero).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cvd_explorer.errors import RunError
from cvd_explorer.runs import Run, train

from .run_fixtures import KILLABLE, TINY, config_flags, kill9, run_cli, start_cli, wait_for

pytestmark = pytest.mark.slow
RTOL = 1e-4


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory) -> Run:
    """KILLABLE trained without interruption, by the CLI like the killed runs."""
    out = tmp_path_factory.mktemp("reference") / "run"
    result = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--quiet", *config_flags(KILLABLE))
    assert result.returncode == 0, result.stderr
    return Run(out)


def assert_same_run(run: Run, reference: Run) -> None:
    """Same files, counts and (within RTOL) figures as the uninterrupted reference."""
    def names(path):
        return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if "tensorboard" not in p.parts)

    assert names(run.path) == names(reference.path)
    assert [r["epoch"] for r in run.history] == [1, 2, 3]
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(run.curve(column), reference.curve(column), rtol=RTOL, err_msg=column)
    assert run.model_info["epoch"] == reference.model_info["epoch"]
    assert len(run.predictions) == len(reference.predictions)
    np.testing.assert_allclose(
        [p["prob"] for p in run.predictions], [p["prob"] for p in reference.predictions], rtol=RTOL, atol=1e-6
    )
    for key in ("epochs", "test_accuracy", "max_val_accuracy", "test_images"):
        assert run.summary[key] == pytest.approx(reference.summary[key], rel=RTOL), key
    assert run.status["state"] == "finished" and run.status["epoch"] == 3
    for kind in ("train", "validation"):  # TensorBoard rewritten: one point per epoch
        assert len(list((run.path / "tensorboard" / kind).iterdir())) == 1


KILL_POINTS = [
    # (name, status predicate to kill at, check of the state left behind)
    ("during epoch 1", lambda s: s.get("phase") == "train" and s.get("epoch") == 0,
     lambda out: not (out / "last" / "state.json").exists()),
    ("after epoch 1", lambda s: s.get("epoch", 0) >= 1,
     lambda out: json.loads((out / "last" / "state.json").read_text())["epoch"] in (1, 2)),
    ("during the test evaluation", lambda s: s.get("phase") == "test",
     lambda out: not (out / "summary.json").exists()),
]


@pytest.mark.timeout(400)
def test_resume_after_sigkill_at_several_points(reference, tiny_data, tmp_path):
    """One run killed three times (each resume is killed again later), then resumed to the end."""
    out = tmp_path / "run"
    command = ["train", "--data", str(tiny_data), "--out", str(out), "--quiet", *config_flags(KILLABLE)]
    for index, (point, predicate, left_behind) in enumerate(KILL_POINTS):
        # first the original command, then the original command with --resume, then just --out --resume
        if index == 0:
            args = command
        elif index == 1:
            args = command + ["--resume"]
        else:
            args = ["train", "--out", str(out), "--resume"]
        proc = start_cli(*args)
        wait_for(out, predicate, proc)
        kill9(proc)
        assert left_behind(out), point
        assert Run(out).state == "interrupted", point  # status says running, the process is gone
        rows = Run(out).history
        assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1)), point
    result = run_cli("train", "--out", str(out), "--resume", "--quiet")
    assert result.returncode == 0, result.stderr
    assert_same_run(Run(out), reference)
    assert (out / "log.txt").read_text().count("resuming after epoch") == 3


def test_crash_between_history_and_commit_is_repaired(trained_run, tmp_path):
    """Killed after history.csv got epoch 3 and last/epoch-000003.keras, before state.json did."""
    out = tmp_path / "run"
    shutil.copytree(trained_run.path, out)
    with open(out / "history.csv", "a") as fh:
        fh.write("3,9.0,0.0,9.0,0.0,0.001,1.0,1.0\n")
    shutil.copy(out / "last" / "last.keras", out / "last" / "epoch-000003.keras")
    run = train(TINY.replace(epochs=3), None, out, resume=True, progress=False)
    assert [r["epoch"] for r in run.history] == [1, 2, 3]
    assert run.history[2]["loss"] != 9.0 and run.history[:2] == trained_run.history
    assert sorted(p.name for p in (out / "last").iterdir()) == ["last.keras", "state.json"]
    assert run.summary["epochs"] == 3 and run.status["state"] == "finished"


def test_existing_run_is_never_overwritten(trained_run, tiny_data):
    before = (trained_run.path / "history.csv").read_bytes()
    with pytest.raises(RunError, match="already holds a training run; pass --resume"):
        train(TINY, tiny_data, trained_run.path, progress=False)
    assert (trained_run.path / "history.csv").read_bytes() == before


def test_resume_refuses_a_changed_config(trained_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained_run.path, out)
    with pytest.raises(RunError, match="cannot resume .* with lr=0.5: the run was started with lr=0.001"):
        train(TINY.replace(lr=0.5), None, out, resume=True, progress=False)


def test_not_empty_folder_is_refused(tiny_data, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="is not empty and holds no run"):
        train(TINY, tiny_data, tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_resume_of_a_finished_run_says_so(trained_run, capsys):
    stamp = (trained_run.path / "status.json").read_bytes()
    run = train(None, None, trained_run.path, resume=True, progress=True)
    assert "already finished (2 epochs)" in capsys.readouterr().err
    assert run.state == "finished" and (trained_run.path / "status.json").read_bytes() == stamp


def test_the_warp_in_the_train_step_trains_as_the_warp_in_the_pipeline_did(tiny_data, tmp_path):
    """The augmentation's warp moved from the input pipeline into the train step: same weights, and
    the saved model holds no augmentation."""
    import keras

    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset
    from cvd_explorer.data.split import ensure_manifest
    from cvd_explorer.models import build, compile_reference
    from cvd_explorer.runs.loop import warp_in_train_step

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    manifest, _ = ensure_manifest(data)

    def trained(augment: bool, on_device: bool):
        keras.utils.set_random_seed(3)
        model = compile_reference(build("resnet-mini", 32), lr=0.05)
        if on_device:
            warp_in_train_step(model, 32)
        options = DatasetOptions(seed=3, augment=augment, defer_warp=on_device)
        model.fit(make_dataset(manifest, "train", 32, 4, options), epochs=2, steps_per_epoch=3, verbose=0)
        return model

    in_pipeline, on_device, unaugmented = trained(True, False), trained(True, True), trained(False, False)
    for a, b in zip(in_pipeline.get_weights(), on_device.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=1e-6)
    assert any(not np.allclose(a, c, rtol=RTOL, atol=1e-6)
               for a, c in zip(in_pipeline.get_weights(), unaugmented.get_weights(), strict=True))
    on_device.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert "train_step" not in vars(loaded) and len(loaded.layers) == len(in_pipeline.layers)
    images = next(iter(make_dataset(manifest, "test", 32, 4)))[0]
    np.testing.assert_allclose(loaded.predict(images, verbose=0), on_device.predict(images, verbose=0), rtol=1e-5)
