"""Probes: CAMs of fixed test images at every block output after every epoch (RUN/probes/)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from cvd_explorer.errors import RunError
from cvd_explorer.runs import Run, probes, train

from .run_fixtures import KILLABLE, TINY, config_flags, kill9, run_cli, start_cli, wait_for


def _manifest(run: Run):
    from cvd_explorer.data.split import read_manifest

    return read_manifest(run.path / "manifest.csv")


def assert_probe_files(out: Path, epochs: int) -> probes.ProbeSpec:
    """Epochs 1..epochs each have exactly one probe file of the documented shapes, nothing else."""
    spec = probes.read_spec(out)
    assert spec is not None
    assert probes.probe_epochs(out) == list(range(1, epochs + 1))
    assert sorted(p.name for p in (out / "probes").iterdir()) == sorted([
        "probes.json", *(f"epoch-{e:04d}.npz" for e in range(1, epochs + 1))
    ])  # no temporary files left
    for epoch in range(1, epochs + 1):
        with np.load(out / "probes" / f"epoch-{epoch:04d}.npz", allow_pickle=False) as data:
            assert list(data.files) == list(spec.layers)
            for layer, shape in zip(spec.layers, spec.shapes, strict=True):
                cam = data[layer]
                assert cam.dtype == np.float16 and cam.shape == (len(spec.images), *shape), layer
                assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() <= 1, layer
    return spec


def test_choice_is_deterministic_balanced_and_from_the_test_split(trained_run: Run) -> None:
    manifest = _manifest(trained_run)
    picked = probes.choose_probes(manifest, 8, seed=0)
    assert [r.path for r in picked] == [r.path for r in probes.choose_probes(manifest, 8, seed=0)]
    assert {r.split for r in picked} == {"test"}
    assert [r.label for r in picked] == ["cat", "dog"] * 4
    assert [r.path for r in probes.choose_probes(manifest, 8, seed=1)] != [r.path for r in picked]
    assert len(probes.choose_probes(manifest, 3, seed=0)) == 3 and probes.choose_probes(manifest, 0, 0) == []
    test_rows = manifest.split_rows("test")
    assert len(probes.choose_probes(manifest, 1000, seed=0)) == len(test_rows)  # capped at the split


def test_trained_run_records_its_probes(trained_run: Run) -> None:
    out = trained_run.path
    spec = assert_probe_files(out, TINY.epochs)
    from cvd_explorer.models import block_outputs

    assert spec.layers == tuple(block_outputs(trained_run.load_model()))
    assert spec.method == "gradcam" and spec.image_size == TINY.image_size
    expected = [r.path for r in probes.choose_probes(_manifest(trained_run), probes.DEFAULT_PROBES, TINY.seed)]
    assert list(spec.images) == expected == json.loads((out / "config.json").read_text())["probes"]["images"]
    raw = json.loads((out / "probes" / "probes.json").read_text())
    assert raw["schema_version"] == 1 and raw["images"] == expected and raw["labels"] == ["cat", "dog"] * 4
    # the last epoch's file holds the CAMs of the last checkpoint (not only some maps in [0, 1])
    recorder = probes.ProbeRecorder.open(out, trained_run.load_model(), trained_run.meta, trained_run.data_root,
                                         TINY.image_size)
    assert recorder is not None and recorder.spec == spec and recorder.images.shape == (8, 32, 32, 3)
    last = probes.read_epoch(out, TINY.epochs)
    again = recorder.compute(_last_checkpoint(out))
    for layer in spec.layers:
        np.testing.assert_allclose(last[layer].astype(np.float32), again[layer], atol=2e-3)


def _last_checkpoint(out: Path):
    from cvd_explorer.runs.safe_load import load_model_file

    return load_model_file(out / "last" / "last.keras", compile=False)


def test_probe_images_are_validated_against_the_manifest(trained_run: Run, tmp_path: Path) -> None:
    manifest, root = _manifest(trained_run), trained_run.data_root
    some = manifest.split_rows("val")[0].path
    assert [r.path for r in probes.probe_rows(manifest, root, [some, root / manifest.rows[0].path])] == [
        some, manifest.rows[0].path]
    with pytest.raises(RunError, match="not an image of the run's manifest"):
        probes.probe_rows(manifest, root, ["cat.9999.jpg"])
    with pytest.raises(RunError, match="not under the data folder"):
        probes.probe_rows(manifest, root, [tmp_path / "cat.1.jpg"])
    with pytest.raises(RunError, match="contradicts"):
        probes.resolve_request(manifest, root, 0, 3, [some])
    result = run_cli("train", "--data", str(root), "--out", str(tmp_path / "run"), "--quiet",
                     *config_flags(TINY), "--probe-images", "nope.jpg")
    assert result.returncode != 0 and "nope.jpg" in result.stderr and "manifest" in result.stderr
    assert not (tmp_path / "run" / "config.json").exists()


def test_atomic_epoch_file_and_repair(tmp_path: Path) -> None:
    out = tmp_path
    (out / "probes").mkdir()
    cams = {"conv2_block1_out": np.random.default_rng(0).random((2, 4, 4), dtype=np.float32)}
    probes.write_epoch(out, 1, cams)
    probes.write_epoch(out, 2, cams)
    (out / "probes" / ".epoch-0003.npz.abc123.tmp").write_bytes(b"half")
    assert probes.probe_epochs(out) == [1, 2]  # a temporary file never matches epoch-*.npz
    assert sorted(p.name for p in (out / "probes").glob("epoch-*.npz")) == ["epoch-0001.npz", "epoch-0002.npz"]
    assert probes.repair(out, 1) == [2]
    assert sorted(p.name for p in (out / "probes").iterdir()) == ["epoch-0001.npz"]
    data = probes.read_epoch(out, 1)
    assert list(data) == ["conv2_block1_out"] and data["conv2_block1_out"].dtype == np.float16


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_every_epoch_once_after_sigkill_and_resume(tiny_data: Path, tmp_path: Path) -> None:
    """Killed after a commit; the committed epoch's file deleted and junk left; resumed to the end."""
    out = tmp_path / "run"
    proc = start_cli("train", "--data", str(tiny_data), "--out", str(out), "--quiet", "--probes", "4",
                     *config_flags(KILLABLE))
    wait_for(out, lambda s: s.get("epoch", 0) >= 1, proc)
    kill9(proc)
    done = json.loads((out / "last" / "state.json").read_text())["epoch"]
    found = probes.probe_epochs(out)
    assert found[:done] == list(range(1, done + 1)) and len(found) in (done, done + 1)  # +1: written, not committed
    # what a kill at other moments leaves: an uncommitted epoch's file, a temporary file, a missing file
    uncommitted = probes.epoch_file(out, done + 1)
    if not uncommitted.exists():
        shutil.copy(probes.epoch_file(out, done), uncommitted)
    (out / "probes" / f".epoch-{done + 1:04d}.npz.x1y2z3.tmp").write_bytes(b"half")
    probes.epoch_file(out, done).unlink()  # as if killed between the commit and the probe write
    result = run_cli("train", "--out", str(out), "--resume", "--quiet")
    assert result.returncode == 0, result.stderr
    spec = assert_probe_files(out, KILLABLE.epochs)
    assert len(spec.images) == 4 and list(spec.labels) == ["cat", "dog", "cat", "dog"]
    assert [r["epoch"] for r in Run(out).history] == [1, 2, 3]


@pytest.mark.slow
def test_run_from_before_probes_resumes_without_them(trained_run: Run, tmp_path: Path) -> None:
    out = tmp_path / "old"
    shutil.copytree(trained_run.path, out)
    shutil.rmtree(out / "probes")
    meta = json.loads((out / "config.json").read_text())
    del meta["probes"]
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(RunError, match="started before probes existed"):
        train(TINY.replace(epochs=3), None, out, resume=True, progress=False, probes=4)
    train(TINY.replace(epochs=3), None, out, resume=True, progress=False)
    assert not (out / "probes").exists() and [r["epoch"] for r in Run(out).history] == [1, 2, 3]


@pytest.mark.slow
def test_given_probe_images_and_no_retracing(tiny_data: Path, tmp_path: Path, caplog) -> None:
    from cvd_explorer.data.split import ensure_manifest

    manifest, _ = ensure_manifest(tiny_data, seed=0)
    chosen = [manifest.split_rows("val")[0].path, str(tiny_data / manifest.split_rows("test")[-1].path)]
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        train(TINY.replace(epochs=3), tiny_data, out, progress=False, probe_images=chosen)
    # the probes' traced step is traced once per model (Keras's own fit/evaluate functions may warn on their own)
    assert not [r.getMessage() for r in caplog.records
                if "retracing" in r.getMessage() and "TensorFlowTrainer" not in r.getMessage()]
    spec = assert_probe_files(out, 3)
    assert list(spec.images) == [chosen[0], manifest.split_rows("test")[-1].path]
    assert spec.splits == ("val", "test")
    with pytest.raises(RunError, match="probes cannot change"):
        train(TINY.replace(epochs=4), None, out, resume=True, progress=False, probes=0)
    none = tmp_path / "none"
    train(TINY.replace(epochs=1), tiny_data, none, progress=False, probes=0)
    assert not (none / "probes").exists()
    assert json.loads((none / "config.json").read_text())["probes"] == {"images": []}


def test_launch_passes_probes_through(tmp_path: Path) -> None:
    import argparse

    from cvd_explorer.cli.train import add_arguments
    from cvd_explorer.runs.launch import train_command

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cmd = train_command(TINY, tmp_path / "data", tmp_path / "run", probes=3, probe_images=["a.jpg", "b.jpg"])
    args = parser.parse_args(cmd[4:])
    assert args.probes == 3 and args.probe_images == ["a.jpg", "b.jpg"] and args.quiet
    args = parser.parse_args(train_command(None, None, tmp_path / "run", resume=True)[4:])
    assert args.probes is None and args.probe_images is None  # a resumed run keeps its own
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "x", "--probes", "-1"])


def test_report_section_shows_two_probes_epoch_by_epoch(trained_run: Run) -> None:
    from cvd_explorer.report.probes_section import probe_sections

    (section,) = probe_sections([trained_run], ["tiny"])
    (figure,) = section.figures()
    assert figure.id == "tiny-probes" and figure.png.startswith(b"\x89PNG")
    assert figure.title == "Where the model looked, epoch by epoch" and "epochs 1, 2" in figure.caption
    assert "cat and a dog" in figure.caption


def test_no_probe_history_without_probes(tmp_path: Path) -> None:
    from cvd_explorer.explore.probes import ProbeHistory

    assert ProbeHistory.open(tmp_path) is None  # so a run without probes gets no report section
