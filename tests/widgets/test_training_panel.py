"""TrainingPanel driving real `cvd-explorer train` child processes on tiny synthetic data."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from cvd_explorer.runs import Run
from cvd_explorer.widgets import TrainingPanel
from tests.widgets.training_fixtures import fake_run, synthetic_data, tiny_config, wait_for

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_data(tmp_path_factory.mktemp("training-panel") / "data")


def test_form_validates_as_you_type(data_dir: Path, tmp_path: Path) -> None:
    panel = TrainingPanel(tiny_config(), data=data_dir, out=tmp_path / "run", background=False)
    assert panel.field_errors == {} and not panel.start_button.disabled
    assert panel.start_button.description == "Start" and panel.stop_button.disabled
    assert panel.status.value and "ready" in panel.status.value

    panel.batch_size.value = 0
    assert "batch_size must be a positive integer" in panel.messages["batch_size"].value
    assert panel.start_button.disabled and panel.config is None
    panel.batch_size.value = 4
    assert panel.messages["batch_size"].value == "" and not panel.start_button.disabled

    panel.lr.value = 0.0
    assert "lr must be a positive number" in panel.field_errors["lr"] and panel.start_button.disabled
    panel.lr.value = 0.01
    panel.val_steps.value = "some"
    assert "val_steps" in panel.field_errors["val_steps"]
    panel.val_steps.value = "all"
    assert panel.config.val_steps == "all" and not panel.start_button.disabled

    panel.data_folder.value = str(tmp_path / "missing")
    assert "does not exist" in panel.field_errors["data"] and panel.start_button.disabled
    panel.data_folder.value = str(data_dir)

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    panel.run_folder.value = str(busy)
    assert "not empty" in panel.field_errors["out"] and panel.start_button.disabled

    other = fake_run(tmp_path / "other", tiny_config(arch="resnet50", val_steps="all"))
    panel.run_folder.value = str(other)
    assert "different run" in panel.field_errors["out"] and panel.start_button.disabled
    panel.arch.value = "resnet50"
    assert panel.field_errors == {} and panel.mode == "resume" and panel.start_button.description == "Resume"
    panel.close()


def test_a_rule_between_fields_marks_the_field_its_error_names(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """The panel marks ``ConfigError.field``, whatever the message says."""
    from cvd_explorer import config as config_module
    from cvd_explorer.errors import ConfigError

    validate = config_module._validate

    def with_a_rule(c):  # valid one field at a time, refused together, blamed on lr
        validate(c)
        if c.lr > 1 and c.batch_size > 8:
            raise ConfigError("too large a step for batches over 8 images", field="lr")

    monkeypatch.setattr(config_module, "_validate", with_a_rule)
    panel = TrainingPanel(tiny_config(), data=data_dir, out=tmp_path / "run", background=False)
    panel.batch_size.value = 16
    panel.lr.value = 2.0
    assert panel.field_errors == {"lr": "too large a step for batches over 8 images"}
    assert "too large a step" in panel.messages["lr"].value and panel.start_button.disabled
    panel.lr.value = 0.5
    assert panel.field_errors == {} and not panel.start_button.disabled
    panel.close()


def test_panel_names_match_the_other_panels(tmp_path: Path) -> None:
    from cvd_explorer.widgets._errors import ErrorArea

    panel = TrainingPanel(tiny_config(), out=tmp_path / "run", background=False)
    assert isinstance(panel.errors, ErrorArea) and panel.error is panel.errors.widget
    assert panel.error in panel.root.children
    panel.close()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_stop_while_starting_leaves_a_fresh_folder(data_dir: Path, tmp_path: Path) -> None:
    panel = TrainingPanel(tiny_config(), data=data_dir, out=tmp_path / "run", background=False)
    panel.start()
    panel.stop_button.click()
    assert panel.wait(timeout=30) == "stopped" and panel.errors.message == ""
    assert panel.mode == "new" and panel.field_errors == {} and not panel.start_button.disabled
    panel.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_start_reattach_stop_and_resume(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    panel = TrainingPanel(tiny_config(epochs=300), data=data_dir, out=out, poll_seconds=0.3)
    empty_curves = bytes(panel.curves_image.value)
    assert empty_curves.startswith(PNG)

    launch = panel.start()
    assert launch.pid != os.getpid() and os.getsid(launch.pid) == launch.pid  # own session
    assert panel.start_button.disabled and not panel.stop_button.disabled and panel.arch.disabled
    early = TrainingPanel(out, background=False)  # a panel opened while the child starts
    assert early.state in ("starting", "running") and early.start_button.disabled
    early.close()
    wait_for(lambda: panel.refresh().history, 180, what="the first epoch in history.csv")
    snap = panel.refresh()
    assert snap.state == "running" and snap.epochs == 300 and snap.steps_per_epoch == 2
    assert 0 < panel.progress.value < 1 and "epoch" in panel.progress_text.value
    assert "running" in panel.status.value
    assert bytes(panel.curves_image.value).startswith(PNG) and bytes(panel.curves_image.value) != empty_curves
    assert bytes(panel.probes_image.value).startswith(PNG)  # probe files are written before the epoch's commit
    assert "after epoch" in panel.probes_caption.value

    # A second panel on the run directory reattaches: config from the run, live progress, Stop.
    second = TrainingPanel(out, poll_seconds=0.3)
    assert second.state == "running" and second.arch.value == "resnet-mini" and second.epochs.value == 300
    assert second.data_folder.value == str(data_dir)
    assert second.start_button.disabled and not second.stop_button.disabled and second.arch.disabled
    second.stop_button.click()
    assert panel.wait(timeout=60) == "stopped"
    wait_for(lambda: second.state == "stopped", 30, what="the reattached panel's poller")  # no refresh() here
    assert second.stop_button.disabled
    second.close()

    assert Run(out).state == "stopped"
    done = panel.snapshot.epoch
    assert 1 <= done < 300 and len(panel.snapshot.history) == done
    assert panel.mode == "resume" and panel.start_button.description == "Resume"
    assert not panel.start_button.disabled and panel.stop_button.disabled
    assert "stopped" in panel.status.value and panel.progress.bar_style == "warning"
    stopped_curves = bytes(panel.curves_image.value)

    panel.epochs.value = done + 1  # only epochs may change on resume
    panel.start_button.click()
    assert panel.wait(timeout=150) == "finished"
    history = panel.snapshot.history
    assert [row["epoch"] for row in history] == list(range(1, done + 2))
    assert panel.progress.value == 1.0 and panel.progress.bar_style == "success"
    assert "finished" in panel.status.value and f"{done + 1} epochs in history" in panel.progress_text.value
    assert bytes(panel.curves_image.value) != stopped_curves
    assert f"after epoch {done + 1} " in panel.probes_caption.value  # redrawn for the new epoch
    assert Run(out).summary is not None and panel.errors.message == ""
    panel.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_child_failing_before_training_shows_exit_and_log(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    panel = TrainingPanel(tiny_config(), data=empty, out=tmp_path / "run", background=False)
    panel.start_button.click()
    assert panel.wait(timeout=100) == "failed"
    assert "no image files" in panel.errors.message
    assert "no image files" in panel.log_view.value and "launching:" in panel.log_view.value
    assert panel.snapshot.returncode == 2 and panel.progress.bar_style == "danger"
    assert not panel.start_button.disabled and not panel.arch.disabled  # the panel stays usable
    panel.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_training_failure_shows_message_and_traceback(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tiny_config(weights=str(tmp_path / "missing.weights.h5"))
    panel = TrainingPanel(config, data=data_dir, out=out, background=False)
    panel.start()
    assert panel.wait(timeout=100) == "failed"
    assert "does not exist" in panel.errors.message and "ModelError" in panel.errors.message
    assert "Traceback" in panel.log_view.value
    assert Run(out).state == "failed"
    panel.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_killed_training_is_reported_interrupted_and_resumable(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    panel = TrainingPanel(tiny_config(epochs=300), data=data_dir, out=out, background=False)
    launch = panel.start()
    # history.csv is written a moment before the epoch's log line: wait for both, then kill
    wait_for(lambda: panel.refresh().history and "epoch 1/300" in (out / "log.txt").read_text(),
             150, what="the first epoch in history.csv and log.txt")
    os.kill(launch.pid, signal.SIGKILL)
    assert panel.wait(timeout=30) == "interrupted"
    assert "without a final status" in panel.errors.message and "SIGKILL" in panel.errors.message
    assert "epoch 1/300" in panel.log_view.value
    assert panel.mode == "resume" and panel.start_button.description == "Resume"
    assert not panel.start_button.disabled and panel.stop_button.disabled
    panel.close()


def test_probes_grid_of_a_trained_run(run_dir: Path) -> None:
    """A finished run with probes: the grid of its last epoch beside the curves; probes 0 refused below 0."""
    import numpy as np
    from PIL import Image

    from cvd_explorer.runs.probes import probe_epochs

    panel = TrainingPanel(run_dir, background=False)
    last = probe_epochs(run_dir)[-1]
    assert f"after epoch {last} " in panel.probes_caption.value
    png = bytes(panel.probes_image.value)
    assert png.startswith(PNG)
    import io

    grid = np.asarray(Image.open(io.BytesIO(png)))
    assert grid.ndim == 3 and grid.shape[0] > grid.shape[1] / 2 and grid.std() > 0  # several probes, not blank
    assert panel.probes.value == 8 and panel.mode == "resume"  # the run's own setting
    panel.probes.value = -1
    assert "probes" in panel.field_errors["probes"]
    panel.close()
