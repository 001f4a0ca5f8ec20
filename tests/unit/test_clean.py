"""split --exclude: triage verdicts become a cleaned manifest for the next training."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cvd_explorer.cli import main
from cvd_explorer.data.clean import CLEANED_NAME, clean_manifest
from cvd_explorer.data.split import ensure_manifest, read_manifest
from cvd_explorer.errors import DataError
from cvd_explorer.verdicts import Verdict, read_verdicts
from tests.unit.data_fixtures import kaggle_tree


def _verdicts(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "verdict", "label", "note", "updated"])
        for p, v in rows:
            writer.writerow([p, v, "", "", "2026-12-01T00:00:00+00:00"])
    return path


def test_split_exclude_writes_a_cleaned_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = kaggle_tree(tmp_path / "data", n=20)
    manifest, _ = ensure_manifest(data)
    test_rows = manifest.split_rows("test")
    flip, drop, keep = test_rows[0], test_rows[1], test_rows[2]
    verdicts = _verdicts(tmp_path / "v.csv", [(flip.path, "label wrong"), (drop.path, "not a cat or dog"),
                                               (keep.path, "model wrong"), ("train/elsewhere.jpg", "label wrong")])
    original = (data / "manifest.csv").read_bytes()

    assert main(["split", str(data), "--exclude", str(verdicts)]) == 0
    out = capsys.readouterr().out
    assert "left out 1 image(s)" in out and "relabelled 1" in out and "1 verdict(s) name images" in out
    assert (data / "manifest.csv").read_bytes() == original  # the data folder's manifest is untouched
    cleaned = read_manifest(data / CLEANED_NAME)
    by_path = {r.path: r for r in cleaned.rows}
    assert drop.path not in by_path and len(cleaned.rows) == len(manifest.rows) - 1
    assert by_path[flip.path].label != flip.label and by_path[flip.path].split == flip.split
    assert by_path[keep.path].label == keep.label
    assert cleaned.cleaned is not None and cleaned.cleaned["removed"] == [drop.path]
    # a training on it keeps it (not re-split, not moved aside)
    again, reused = ensure_manifest(data, manifest_path=data / CLEANED_NAME)
    assert reused and again.sha256 == cleaned.sha256

    # running it again keeps the earlier cleaned manifest as a backup
    assert main(["split", str(data), "--exclude", str(verdicts)]) == 0
    assert list(data.glob("manifest.cleaned.*.bak"))


def test_bad_verdicts_are_refused_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("path,verdict\ntrain/cat.1.jpg,maybe\n")
    with pytest.raises(DataError, match=r"bad.csv:2: verdict 'maybe'"):
        read_verdicts(bad)
    (tmp_path / "cols.csv").write_text("file,verdict\n")
    with pytest.raises(DataError, match="lacks the column"):
        read_verdicts(tmp_path / "cols.csv")
    with pytest.raises(DataError, match="does not exist"):
        read_verdicts(tmp_path / "nowhere.csv")


def test_a_class_emptied_by_verdicts_is_refused(tmp_path: Path) -> None:
    data = kaggle_tree(tmp_path / "data", n=20)
    manifest, _ = ensure_manifest(data)
    cats = {r.path: Verdict(r.path, "not a cat or dog", "", "")
            for r in manifest.split_rows("test") if r.label == manifest.classes[0]}
    with pytest.raises(DataError, match="test split without one of the classes"):
        clean_manifest(manifest, cats)


def test_k_class_verdicts_drop_and_keep_but_refuse_an_unnamed_relabelling(tmp_path: Path) -> None:
    from tests.unit.data_fixtures import folders_tree

    data = folders_tree(tmp_path / "data", ("bird", "cat", "dog"), n=12)
    manifest, _ = ensure_manifest(data)
    assert manifest.classes == ("bird", "cat", "dog")
    test_rows = manifest.split_rows("test")
    keep, drop = test_rows[0], test_rows[1]
    v = {keep.path: Verdict(keep.path, "model wrong", "", ""),
         drop.path: Verdict(drop.path, "not a cat or dog", "", "")}
    cleaned, report = clean_manifest(manifest, v)
    assert report.removed == (drop.path,) and report.kept == (keep.path,)
    assert len(cleaned.rows) == len(manifest.rows) - 1 and cleaned.classes == manifest.classes
    flip = {keep.path: Verdict(keep.path, "label wrong", "", "")}
    with pytest.raises(DataError, match=rf"{keep.path}.*3 classes.*which one is right"):
        clean_manifest(manifest, flip, source="v.csv")
