"""Split manifest: exact proportions, stratification, determinism, file format, reuse."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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


# ----------------------------------------------------------------------------------------------
# Duplicate groups, the sidecar, the old form, leakage
# ----------------------------------------------------------------------------------------------


def scan_with_groups(n: int = 500, groups: int = 60, seed: int = 0) -> ScanResult:
    """A fake scan of n cats and n dogs, with duplicate groups of 2-4 images (some across classes)."""
    from cvd_explorer.data.duplicates import DuplicateGroup

    result = fake_scan(n, n)
    rng = np.random.default_rng(seed)
    paths = [p for p, _ in result.accepted]
    chosen = rng.permutation(len(paths))
    start = 0
    for g in range(groups):
        size = 2 + g % 3
        members = tuple(sorted(paths[i] for i in chosen[start : start + size]))
        start += size
        result.duplicates.append(DuplicateGroup("near" if g % 2 else "exact", members, 0.99 if g % 2 else 1.0))
    result.duplicates.sort(key=lambda g: g.paths[0])
    return result


def test_groups_stay_inside_one_split_with_reference_sizes():
    from cvd_explorer.data.leakage import leakage

    result = scan_with_groups()
    manifest = make_split(result, seed=0)
    split_of = {r.path: r.split for r in manifest.rows}
    for group in result.duplicates:
        assert len({split_of[p] for p in group.paths}) == 1, group
    assert manifest.counts() == make_split(fake_scan(500, 500), seed=0).counts()  # 340/80/80 per class kept
    assert manifest.group_count == 60 and sum(1 for r in manifest.rows if r.group) == 180
    report = leakage(manifest, result.duplicates)
    assert not report.leaking and report.test_images_with_copy_elsewhere == 0
    assert make_split(result, seed=0) == manifest  # deterministic
    assert make_split(result, seed=1) != manifest


def test_without_duplicates_the_split_is_unchanged():
    plain = fake_scan(300, 200)
    manifest = make_split(plain, seed=4)
    rng = np.random.default_rng(4)
    expected = {}
    for label in ("cat", "dog"):
        paths = sorted(p for p, c in plain.accepted if c == label)
        _, n_val, n_test = split_sizes(len(paths))
        for rank, index in enumerate(rng.permutation(len(paths))):
            expected[paths[index]] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    assert {r.path: r.split for r in manifest.rows} == expected and manifest.group_count == 0


def test_group_column_round_trips_and_pandas_reads_it(tmp_path):
    manifest = make_split(scan_with_groups(40, 5), seed=2)
    path = write_manifest(manifest, tmp_path / "manifest.csv")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "label", "split", "group"]
    assert {r["group"] for r in rows} == {"", "g1", "g2", "g3", "g4", "g5"}
    back = read_manifest(path)
    assert back == manifest and back.rows == manifest.rows


def test_a_run_copy_without_sidecar_still_knows_its_classes(tmp_path):
    manifest = make_split(fake_scan(10, 12), seed=5)
    data = tmp_path / "data" / "manifest.csv"
    data.parent.mkdir()
    write_manifest(manifest, data)
    copy = tmp_path / "run" / "manifest.csv"
    copy.parent.mkdir()
    copy.write_bytes(manifest.to_bytes())  # what a run folder keeps
    back = read_manifest(copy)
    assert back.classes == ("cat", "dog") and back.rows == manifest.rows and back.sha256 == manifest.sha256
    assert back.seed is None and back.layout is None
    (copy.parent / "manifest.json").write_text('{"sha256": "0000", "seed": 9}')  # a stale sidecar is ignored
    assert read_manifest(copy).seed is None
    one_class = tmp_path / "one.csv"
    one_class.write_text("path,label,split,group\na.jpg,cat,train,\n")
    with pytest.raises(DataError, match=r"one\.csv: the rows name 1 class.*restore one\.json"):
        read_manifest(one_class)


def test_lost_sidecar_is_restored_when_the_csv_is_this_seeds_split(tmp_path):
    kaggle_tree(tmp_path, n=4)
    manifest, _ = ensure_manifest(tmp_path, seed=3)
    (tmp_path / "manifest.json").unlink()
    again, reused = ensure_manifest(tmp_path, seed=None)  # None: keep the manifest's seed (unknown here)
    assert not reused and again.seed == 0  # unknown seed, seed 0 asked: a new split, the old one kept
    assert again.previous is not None and read_manifest(again.previous).rows == manifest.rows
    (tmp_path / "manifest.json").unlink()
    kept, reused = ensure_manifest(tmp_path, seed=0)
    assert reused and kept.seed == 0 and (tmp_path / "manifest.json").is_file()


OLD_FORM = (
    "# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\n"
    "path,label,split\n"
    "train/cat.0.jpg,cat,test\n"
    "train/cat.1.jpg,cat,train\n"
    "train/cat.2.jpg,cat,val\n"
    "train/dog.0.jpg,dog,test\n"
    "train/dog.1.jpg,dog,train\n"
    "train/dog.2.jpg,dog,val\n"
)


def test_old_form_manifest_reads_keeps_its_bytes_and_is_reported_leaking(tmp_path):
    from cvd_explorer.data.duplicates import DuplicateGroup
    from cvd_explorer.data.leakage import leakage

    path = tmp_path / "manifest.csv"
    path.write_text(OLD_FORM)
    manifest = read_manifest(path)
    assert (manifest.version, manifest.seed, manifest.layout, manifest.classes) == (1, 0, "kaggle", ("cat", "dog"))
    assert all(r.group == "" for r in manifest.rows)
    assert manifest.to_bytes() == OLD_FORM.encode()  # a run's recorded sha256 still matches
    duplicates = [
        DuplicateGroup("exact", ("train/cat.0.jpg", "train/cat.1.jpg"), 1.0),  # test + train
        DuplicateGroup("near", ("train/dog.0.jpg", "train/dog.2.jpg"), 0.99),  # test + val
        DuplicateGroup("near", ("train/cat.2.jpg", "train/dog.1.jpg"), 0.98),  # val + train
        DuplicateGroup("exact", ("train/cat.9.jpg", "train/dog.0.jpg"), 1.0),  # one image outside the manifest
    ]
    report = leakage(manifest, duplicates)
    assert report.leaking and report.test_images_with_copy_elsewhere == 2
    assert report.val_images_with_copy_in_train == 1 and len(report.groups_across_splits) == 3
    assert report.to_json()["test_images_with_copy_elsewhere"] == 2


def test_old_form_is_reused_not_rewritten_until_regroup(tmp_path):
    from cvd_explorer.data.scan import scan

    from .data_fixtures import save

    kaggle_tree(tmp_path, n=3)
    save(tmp_path / "train" / "cat.9.jpg", np.asarray(Image.open(tmp_path / "train" / "cat.0.jpg")))
    result = scan(tmp_path)
    assert [g.paths for g in result.duplicates] == [("train/cat.0.jpg", "train/cat.9.jpg")]
    (tmp_path / "manifest.csv").write_text(OLD_FORM + "train/cat.9.jpg,cat,train\n")
    manifest, reused = ensure_manifest(tmp_path, seed=0, scan_result=result)
    assert reused and manifest.version == 1 and (tmp_path / "manifest.csv").read_text().startswith("# ")
    regrouped, reused = ensure_manifest(tmp_path, seed=0, scan_result=result, regroup=True)
    assert not reused and regrouped.version == 2 and regrouped.previous is not None
    assert regrouped.previous.read_text().startswith("# cvd-explorer manifest v1")  # kept as .bak
    split_of = {r.path: (r.split, r.group) for r in regrouped.rows}
    assert split_of["train/cat.0.jpg"] == split_of["train/cat.9.jpg"] and split_of["train/cat.0.jpg"][1] == "g1"
    assert ensure_manifest(tmp_path, seed=0, scan_result=result, regroup=True)[1]  # now it matches
