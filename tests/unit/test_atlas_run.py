"""The atlas pass on a small trained run: files, summary, reuse, staleness, resume, bad input, CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cvd_explorer.atlas import compute_atlas, find_atlas, load_atlas, store
from cvd_explorer.errors import CvdError, RunError
from cvd_explorer.runs import Run


@pytest.fixture(scope="module")
def shared_run(run_dir: Path) -> Path:
    """The small run shared by the widget tests (read only: tests copy it before writing)."""
    return run_dir


def _copy(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("atlas"))
    return dest


@pytest.fixture(scope="module")
def atlas_run(shared_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the run with its test atlas computed once."""
    out = _copy(shared_run, tmp_path_factory.mktemp("atlas") / "run")
    compute_atlas(out)
    return out


def test_atlas_files_rows_and_summary(atlas_run: Path) -> None:
    from cvd_explorer.models import conv_layers

    run = Run(atlas_run)
    atlas = find_atlas(run)
    assert atlas is not None
    assert atlas.folder == atlas_run / "atlas" / "test-gradcam"
    for name in (*store.FINISHED_FILES, store.INDEX):
        assert (atlas.folder / name).is_file(), name
    assert not list(atlas.folder.glob(".*.tmp"))
    test_rows = run.manifest.split_rows("test")
    layers = conv_layers(run.load_model())
    s = atlas.summary
    assert s["images"] == len(test_rows) == len(atlas.rows)
    assert s["layers"] == layers == atlas.layers
    assert [r.path for r in atlas.rows] == [r.path for r in test_rows]
    # the pass's own predictions agree with the run's predictions.csv
    probs = {r["relpath"]: r["prob"] for r in run.predictions or []}
    assert max(abs(r.p - probs[r.path]) for r in atlas.rows) < 1e-4
    assert s["misclassified"] == sum(not r.correct for r in atlas.rows) > 0
    # every layer has a value per curve, the deepest agrees with itself
    d = s["depth"]
    assert d["layers"] == layers
    for curve in ("agreement_with_last", "concentration", "mass_in_mask", "pointing_game", "blank_share"):
        assert len(d[curve]["correct"]) == len(layers) == len(d[curve]["misclassified"])
    assert d["agreement_with_last"]["correct"][-1] == pytest.approx(1.0)
    assert set(d["by_class"]) == {"cat", "dog"}
    # arrays line up with the rows
    n = s["images"]
    assert atlas.arrays["embedding"].shape == (n, 2)
    assert atlas.arrays["thumbs"].shape == (n, 32, 32)
    assert atlas.arrays["features"].dtype == np.float16 and len(atlas.arrays["features"]) == n
    assert atlas.layer_stats["agreement"].shape == (n, len(layers))
    assert s["images_with_mask"] == n  # the synthetic data brings masks
    means = atlas.mean_cams
    assert means["groups"] == ["cat/correct", "cat/misclassified", "dog/correct", "dog/misclassified"]
    assert means["maps"].shape[:2] == (len(means["blocks"]), 4)
    for b in range(len(means["blocks"])):
        for g in range(4):
            total = float(means["maps"][b, g].sum())
            assert total == pytest.approx(1.0 if means["counts"][b, g] else 0.0, abs=1e-4)
    # suspects are listed most suspicious first, and flagged in the rows
    scores = [e["score"] for e in s["suspected_label_errors"]]
    assert scores == sorted(scores)
    assert {e["path"] for e in s["suspected_label_errors"]} == {r.path for r in atlas.rows if r.suspect}
    json.dumps(s, allow_nan=False)  # no NaN anywhere
    assert s["leakage"]["test_images_with_copy_elsewhere"] == 0


def test_current_atlas_is_reused_and_stale_one_recomputed(atlas_run: Path, tmp_path: Path) -> None:
    folder = atlas_run / "atlas" / "test-gradcam"
    before = (folder / store.SUMMARY).stat().st_mtime_ns
    again = compute_atlas(atlas_run)
    assert (folder / store.SUMMARY).stat().st_mtime_ns == before
    assert again.summary == load_atlas(folder).summary

    copy = _copy(atlas_run, tmp_path / "run")
    shutil.copytree(folder, copy / "atlas" / "test-gradcam")
    assert find_atlas(Run(copy)) is not None
    info = json.loads((copy / "model.json").read_text())
    info["sha256"] = "0" * 64
    (copy / "model.json").write_text(json.dumps(info))
    assert find_atlas(Run(copy)) is None  # tied to the model: another checkpoint makes it stale


def test_find_atlas_serves_only_a_current_atlas(atlas_run: Path, tmp_path: Path) -> None:
    copy = _copy(atlas_run, tmp_path / "run")
    shutil.copytree(atlas_run / "atlas" / "test-gradcam", copy / "atlas" / "test-gradcam")
    index_file = copy / "atlas" / "test-gradcam" / store.INDEX
    index = json.loads(index_file.read_text())
    assert find_atlas(Run(copy)) is not None

    index_file.write_text(json.dumps(dict(index, schema_version=store.SCHEMA_VERSION - 1)))
    assert find_atlas(Run(copy)) is None  # an older schema: the panel, the report and Compare do not serve it
    index_file.write_text(json.dumps(dict(index, key=dict(index["key"], masks=str(tmp_path / "other")))))
    assert find_atlas(Run(copy)) is None  # computed with other masks
    index_file.write_text(json.dumps(index))
    other = tmp_path / "masks"
    other.mkdir()
    assert find_atlas(Run(copy), masks=other) is None  # asked for other masks
    assert find_atlas(Run(copy)) is not None
    key = store.atlas_key(Run(copy), "test", "gradcam", store.masks_folder(Run(copy), None))
    assert store.is_current(index, key) and not store.is_current(dict(index, schema_version=0), key)


def test_interrupted_atlas_continues_where_it_stopped(atlas_run: Path, tmp_path: Path) -> None:
    run = _copy(atlas_run, tmp_path / "run")
    calls: list[int] = []

    def stop_after_first(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compute_atlas(run, batch_size=8, progress=stop_after_first)
    folder = run / "atlas" / "test-gradcam"
    assert store.read_index(folder)["state"] == "partial"  # type: ignore[index]
    assert len(list((folder / store.CHUNKS).glob("chunk-*.npz"))) == 1
    with pytest.raises(RunError, match="partial"):
        load_atlas(folder)
    resumed = compute_atlas(run, batch_size=8, progress=lambda d, t: calls.append(d))
    assert calls[1] == 16  # the first 8 images were not explained again
    fresh = load_atlas(atlas_run / "atlas" / "test-gradcam")
    assert [r.path for r in resumed.rows] == [r.path for r in fresh.rows]
    for name, values in fresh.layer_stats.items():
        np.testing.assert_allclose(resumed.layer_stats[name], values, atol=1e-5, err_msg=name)


def test_bad_images_and_masks_are_reported_not_fatal(shared_run: Path, tmp_path: Path) -> None:
    run = _copy(shared_run, tmp_path / "run")
    data = Path(Run(run).data_root)
    moved = tmp_path / "moved-data"
    shutil.copytree(data, moved)
    rows = Run(run).manifest.split_rows("test")
    broken, no_mask, other_size = rows[0].path, rows[1].path, rows[2].path
    (moved / broken).write_bytes(b"not an image at all")
    (moved / "_masks" / Path(no_mask).with_suffix(".png")).unlink()
    from PIL import Image

    mask_file = moved / "_masks" / Path(other_size).with_suffix(".png")
    with Image.open(mask_file) as im:
        im.resize((13, 13), Image.Resampling.NEAREST).save(mask_file)

    atlas = compute_atlas(run, data_root=moved)
    s = atlas.summary
    assert s["images"] == len(rows) - 1
    assert [e["path"] for e in s["skipped"]] == [broken]
    assert "not-image" in s["skipped"][0]["reason"] or "image" in s["skipped"][0]["reason"]
    paths = [r.path for r in atlas.rows]
    assert broken not in paths
    k = paths.index(no_mask)
    assert not atlas.arrays["has_mask"][k]
    assert np.isnan(atlas.layer_stats["mass_in_mask"][k]).all()
    j = paths.index(other_size)
    assert atlas.arrays["has_mask"][j] and np.isfinite(atlas.layer_stats["mass_in_mask"][j]).any()
    assert s["images_with_mask"] == len(rows) - 2


def test_run_without_model_or_predictions(shared_run: Path, tmp_path: Path) -> None:
    run = _copy(shared_run, tmp_path / "run")
    (run / "predictions.csv").unlink()
    atlas = compute_atlas(run)  # the pass predicts by itself
    assert atlas.summary["images"] == len(Run(run).manifest.split_rows("test"))
    bare = _copy(shared_run, tmp_path / "bare")
    (bare / "model.keras").unlink()
    (bare / "model.json").unlink()
    with pytest.raises(RunError, match="no model yet"):
        compute_atlas(bare)
    assert not (bare / "atlas").exists()


def test_methods_and_arguments_are_checked(shared_run: Path, tmp_path: Path) -> None:
    from cvd_explorer.explain.registry import SPECS

    run = _copy(shared_run, tmp_path / "run")
    with pytest.raises(CvdError, match="unknown method"):
        compute_atlas(run, method="nonsense")
    costly = next(spec.name for spec in SPECS if spec.per_layer)
    with pytest.raises(CvdError, match="one layer at a time"):
        compute_atlas(run, method=costly)
    with pytest.raises(CvdError, match="--masks"):
        compute_atlas(run, masks=tmp_path / "nowhere")
    with pytest.raises(CvdError, match="batch-size"):
        compute_atlas(run, batch_size=0)
    assert not (run / "atlas").exists()


def test_cli_json(atlas_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cvd_explorer.cli import main

    assert main(["atlas", str(atlas_run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"images", "layers", "seconds", "suspected_label_errors", "depth", "leakage"} <= set(out)
    assert set(out["depth"]) >= {"layers", "agreement_with_last", "mass_in_mask", "by_class", "intervals"}
    assert out["leakage"] == {**out["leakage"], "test_images_with_copy_elsewhere": 0}
    with open(atlas_run / "atlas" / "test-gradcam" / store.LABEL_ISSUES, newline="") as fh:
        assert [r["path"] for r in csv.DictReader(fh)] == [e["path"] for e in out["suspected_label_errors"]]
    assert main(["atlas", str(atlas_run)]) == 0
    text = capsys.readouterr().out
    assert "atlas of" in text and "agreement_with_last" in text


def test_leakage_from_the_scans_duplicates(shared_run: Path, tmp_path: Path) -> None:
    run = _copy(shared_run, tmp_path / "run")
    manifest = Run(run).manifest
    moved = tmp_path / "data"
    shutil.copytree(Run(run).data_root, moved)
    test_path = manifest.split_rows("test")[0].path
    train_path = next(r.path for r in manifest.split_rows("train") if r.label == manifest.split_rows("test")[0].label)
    shutil.copyfile(moved / train_path, moved / test_path)  # the test image is now a copy of a train image

    atlas = compute_atlas(run, data_root=moved)
    leak = atlas.summary["leakage"]
    assert leak["test_images_with_copy_elsewhere"] == 1 and leak["source"] == "scan"
    row = next(r for r in atlas.rows if r.path == test_path)
    assert row.copy_elsewhere and row.group
    assert sum(r.copy_elsewhere for r in atlas.rows) == 1
    (entry,) = [d for d in atlas.summary["duplicates"] if test_path in d["paths"]]
    assert set(entry["paths"]) == {test_path, train_path} and sorted(entry["splits"]) == ["test", "train"]


def test_similar_images_are_the_nearest_by_cosine_on_the_stored_features(atlas_run: Path) -> None:
    atlas = find_atlas(Run(atlas_run))
    assert atlas is not None
    features = atlas.arrays["features"].astype(np.float64)
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    paths = [r.path for r in atlas.rows]
    found = atlas.similar(paths[3], k=5)
    expected = np.argsort(1 - unit @ unit[3], kind="stable")
    expected = [i for i in expected if i != 3][:5]
    assert [p for p, _ in found] == [paths[i] for i in expected]
    np.testing.assert_allclose([d for _, d in found], (1 - unit @ unit[3])[expected], atol=1e-4)
    centroid = atlas.similar(paths[:4], k=3)  # a selection: its centroid, the selection left out
    assert len(centroid) == 3 and not {p for p, _ in centroid} & set(paths[:4])
    with pytest.raises(RunError, match="not in the test atlas: nowhere.jpg"):
        atlas.similar(["nowhere.jpg"])


def test_the_finish_writes_confusion_slices_and_issues(atlas_run: Path) -> None:
    atlas = find_atlas(Run(atlas_run))
    assert atlas is not None
    s = atlas.summary
    json.dumps(s, allow_nan=False)
    assert s["explained"] == "predicted class"
    classes = list(Run(atlas_run).classes)
    labels = np.array([classes.index(r.label) for r in atlas.rows])
    predicted = np.array([classes.index(r.prediction) for r in atlas.rows])
    expected = np.zeros((2, 2), int)
    np.add.at(expected, (labels, predicted), 1)
    assert s["confusion"] == {"classes": classes, "matrix": expected.tolist()}
    assert np.trace(expected) / expected.sum() == s["accuracy"]
    assert "probs" not in atlas.arrays and atlas.arrays["logits"].shape == (len(atlas.rows),)  # binary files as before
    np.testing.assert_allclose(atlas.probs[:, 1], [r.p for r in atlas.rows], atol=1e-6)
    paths = {r.path for r in atlas.rows}
    wrong = {r.path for r in atlas.rows if not r.correct}
    for k, entry in enumerate(atlas.slices):
        assert entry["id"] == k and entry["size"] == len(entry["paths"]) == sum(entry["classes"].values())
        assert set(entry["paths"]) <= paths
        assert entry["error_rate"] == pytest.approx(len(set(entry["paths"]) & wrong) / entry["size"])
        assert entry["interval"][0] <= entry["error_rate"] <= entry["interval"][1]
        assert entry["overall_error_rate"] == pytest.approx(len(wrong) / len(paths))
        assert entry["mask_mass"] is not None and set(entry["mask_mass"]) == {"slice", "rest"}
        mine, reference = atlas.slice_maps(k)
        assert mine.shape == reference.shape == atlas.arrays["thumbs"].shape[1:]
        assert float(mine.sum()) == pytest.approx(1.0, abs=1e-4)
    assert [q["q_value"] for q in atlas.slices] == sorted(q["q_value"] for q in atlas.slices)
    with pytest.raises(RunError, match="does not exist"):
        atlas.slice_maps(len(atlas.slices))
    assert set(atlas.issues) == {"outlier", "near_duplicate", "non_iid"}
    for entry in atlas.issues.values():
        assert len(entry["paths"]) == len(entry["scores"]) <= min(50, entry["count"])
        assert set(entry["paths"]) <= paths


def test_a_train_atlas_answers_which_training_images_look_like_a_test_image(
        atlas_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cvd_explorer.cli import main

    run = Run(atlas_run)
    test_atlas = find_atlas(run)
    assert test_atlas is not None
    query = test_atlas.rows[0].path
    assert main(["atlas", str(atlas_run), "--split", "train", "--similar", query, "--k", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    train_atlas = find_atlas(run, "train")
    assert train_atlas is not None and len(train_atlas.rows) == len(run.manifest.split_rows("train"))
    assert out["split"] == "train" and out["source"] == "test" and out["query"] == [query]
    expected = train_atlas.similar(query, k=4, source=test_atlas)
    assert [(e["path"], e["distance"]) for e in out["similar"]] == [(p, pytest.approx(d)) for p, d in expected]
    train_paths = {r.path for r in run.manifest.split_rows("train")}
    assert len(out["similar"]) == 4 and {e["path"] for e in out["similar"]} <= train_paths
    distances = [e["distance"] for e in out["similar"]]
    assert distances == sorted(distances)
    assert main(["atlas", str(atlas_run), "--split", "train", "--similar", "nowhere.jpg"]) == 2
    assert "nowhere.jpg is in no atlas of the run" in capsys.readouterr().err


def test_opening_the_atlas_panel_imports_no_tensorflow(atlas_run: Path) -> None:
    """The panel reads the atlas files; the model (and TensorFlow) load only when an image is opened."""
    import subprocess
    import sys

    code = (
        "import sys; from cvd_explorer.widgets import Atlas; "
        f"panel = Atlas({str(atlas_run)!r}, background=False); "
        "print(panel.data is not None, sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "True []", out.stdout + out.stderr
