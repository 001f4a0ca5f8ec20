"""Split manifest: exact proportions, stratification, determinism, file format, reuse."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

import pytest

from cvd_explorer.data.scan import ScanResult
from cvd_explorer.data.split import (
    Manifest,
    ManifestRow,
    ensure_manifest,
    make_split,
    read_manifest,
    split_sizes,
    write_manifest,
)
from cvd_explorer.errors import DataError
from tests.unit.data_fixtures import kaggle_tree


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CVD_EXPLORER_CACHE", str(tmp_path_factory.mktemp("cache")))


def fake_scan(n_cat: int = 12_500, n_dog: int = 12_500) -> ScanResult:
    accepted = [(f"train/cat.{i}.jpg", "cat") for i in range(n_cat)]
    accepted += [(f"train/dog.{i}.jpg", "dog") for i in range(n_dog)]
    return ScanResult(
        root=Path("/nowhere"), layout="kaggle", classes=("cat", "dog"),
        accepted=sorted(accepted), unlabelled=["test1/1.jpg"],
    )


@pytest.fixture(scope="module")
def full() -> tuple[ScanResult, Manifest]:
    result = fake_scan()
    return result, make_split(result, seed=0)


def test_reference_proportions_exact(full):
    _, manifest = full
    assert manifest.counts() == {
        "train": {"cat": 8_500, "dog": 8_500},
        "val": {"cat": 2_000, "dog": 2_000},
        "test": {"cat": 2_000, "dog": 2_000},
    }
    assert [len(manifest.split_rows(s)) for s in ("train", "val", "test")] == [17_000, 4_000, 4_000]
    assert all(row.path.startswith("train/") for row in manifest.rows)  # unlabelled left out
    assert [r.path for r in manifest.rows] == sorted(r.path for r in manifest.rows)


def test_other_sizes_stratified():
    assert split_sizes(100) == (68, 16, 16)
    assert split_sizes(3) == (3, 0, 0)
    assert split_sizes(25) == (17, 4, 4)  # 0.16 * 25 = 4.0
    manifest = make_split(fake_scan(100, 40), seed=1)
    assert manifest.counts()["val"] == {"cat": 16, "dog": 6}
    assert manifest.counts()["test"] == {"cat": 16, "dog": 6}


def test_deterministic_and_seed_dependent(full):
    result, manifest = full
    again = make_split(result, seed=0)
    assert again == manifest and again.sha256 == manifest.sha256
    other = make_split(result, seed=1)
    assert other.counts() == manifest.counts()
    assert other.split_rows("val") != manifest.split_rows("val")


def test_label_index(full):
    _, manifest = full
    assert (manifest.label_index("cat"), manifest.label_index("dog")) == (0, 1)
    with pytest.raises(DataError):
        manifest.label_index("bird")


def test_file_round_trip(tmp_path):
    manifest = make_split(fake_scan(10, 12), seed=7)
    path = write_manifest(manifest, tmp_path / "m.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "path,label,split,group"  # a plain CSV: the header comes first
    assert len(lines) == 23 and all(line.endswith(",") for line in lines[1:])  # no copies: no group
    meta = json.loads((tmp_path / "m.json").read_text())
    assert (meta["version"], meta["seed"], meta["layout"], meta["classes"]) == (2, 7, "kaggle", ["cat", "dog"])
    assert meta["sha256"] == manifest.sha256 and meta["duplicate_groups"] == 0
    assert meta["counts"] == manifest.counts()
    back = read_manifest(path)
    assert back == manifest and back.path == path and back.sha256 == manifest.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "m.json"]  # no temp file left


def test_paths_with_commas_round_trip(tmp_path):
    rows = [ManifestRow("cats/a, b.jpg", "cats", "train"), ManifestRow("dogs/c.jpg", "dogs", "val")]
    manifest = Manifest(rows, 0, ("cats", "dogs"), "folders")
    assert read_manifest(write_manifest(manifest, tmp_path / "m.csv")).rows == rows


@pytest.mark.parametrize(
    "text, line",
    [
        ("path,label,split\n", 1),
        ("# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,split\n", 2),
        ("# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,label,split\na.jpg,cat\n", 3),
        ("# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,label,split\na.jpg,cow,train\n", 3),
        ("# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,label,split\na.jpg,cat,dev\n", 3),
        ("# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,label,split\n/a.jpg,cat,val\n", 3),
        ("# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,label,split\n"
         "a.jpg,cat,val\na.jpg,cat,val\n", 4),
    ],
)
def test_malformed_manifest_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"manifest\.csv:{line}: "):
        read_manifest(path)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="no such manifest"):
        read_manifest(tmp_path / "manifest.csv")


def test_ensure_reuses_then_rewrites_with_backup(tmp_path):
    kaggle_tree(tmp_path, n=4)
    manifest, reused = ensure_manifest(tmp_path, seed=0)
    assert not reused and manifest.path == tmp_path / "manifest.csv"
    assert manifest.counts()["val"] == {"cat": 1, "dog": 1}  # round(0.16 * 4) = 1
    assert manifest.counts()["train"] == {"cat": 2, "dog": 2}
    again, reused = ensure_manifest(tmp_path, seed=0)
    assert reused and again == manifest

    other, reused = ensure_manifest(tmp_path, seed=3)
    assert not reused and other.seed == 3
    assert other.previous is not None and other.previous.name.endswith(".csv.bak")
    assert read_manifest(other.previous) == manifest  # old file kept, not overwritten
    (tmp_path / "train" / "cat.0.jpg").rename(tmp_path / "cat.0.jpg.moved")
    changed, reused = ensure_manifest(tmp_path, seed=3)
    assert not reused and len(changed.rows) == 7


def test_ensure_elsewhere_and_read_only_root(tmp_path, monkeypatch):
    root = kaggle_tree(tmp_path / "data", n=2)
    real_mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == root:
            raise PermissionError(13, "Permission denied", str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    if os.geteuid() == 0:  # root writes anywhere: simulate the read-only folder
        monkeypatch.setattr(tempfile, "mkstemp", read_only)
    else:
        root.chmod(0o555)
    try:
        with pytest.raises(DataError, match=r"read-only.*--manifest PATH"):
            ensure_manifest(root)
        manifest, reused = ensure_manifest(root, manifest_path=tmp_path / "elsewhere.csv")
        assert not reused and (tmp_path / "elsewhere.csv").exists() and manifest.root == root
        assert not (root / "manifest.csv").exists()
    finally:
        root.chmod(0o755)


def test_a_folder_with_one_class_cannot_be_split(tmp_path):
    from cvd_explorer.data.scan import scan
    from cvd_explorer.data.split import make_split

    from .data_fixtures import save

    for i in range(5):
        save(tmp_path / "train" / f"cat.{i}.jpg")
    (tmp_path / "train" / "dog.0.jpg").write_bytes(b"")  # the only dog is rejected
    with pytest.raises(DataError, match=r"no accepted images of dog \(0\)"):
        make_split(scan(tmp_path))
