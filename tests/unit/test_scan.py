"""Scan: verdicts, JSON contract, cache, worker processes, quarantine."""

from __future__ import annotations

import importlib
import json
import os

import pytest

from cvd_explorer.data.scan import Rejection, cache_file, quarantine, scan
from cvd_explorer.errors import DataError
from tests.unit.data_fixtures import bad_files, kaggle_tree, petimages_tree, save

scan_module = importlib.import_module("cvd_explorer.data.scan")  # the package re-exports scan()


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("CVD_EXPLORER_CACHE", str(path))
    return path


def petimages_with_bad(root):
    petimages_tree(root, n=3)
    expected = bad_files(root / "PetImages" / "Cat")
    save(root / "PetImages" / "Dog" / "bmp.jpg", fmt="BMP")
    random_unlabelled = root / "PetImages" / "stray.jpg"
    random_unlabelled.write_bytes(b"")
    return expected


def test_scan_verdicts_and_json_contract(tmp_path):
    expected = petimages_with_bad(tmp_path)
    result = scan(tmp_path)
    assert result.layout == "petimages" and result.classes == ("cat", "dog")
    assert result.counts() == {"cat": 3, "dog": 4}
    assert ("PetImages/Dog/bmp.jpg", "dog") in result.accepted
    assert result.accepted == sorted(result.accepted)
    rejected = {r.path: r.reason for r in result.rejected}
    assert rejected == {
        **{f"PetImages/Cat/{name}": reason for name, reason in expected.items()},
        "PetImages/stray.jpg": "empty",
    }
    data = result.to_json()
    assert list(data) == ["layout", "classes", "accepted", "ignored", "unlabelled", "rejected", "duplicates"]
    assert data["layout"] == "petimages"
    assert data["classes"] == {"cat": 3, "dog": 4}
    assert (data["accepted"], data["ignored"], data["unlabelled"]) == (7, 2, 0)
    assert data["rejected"][0].keys() == {"path", "reason", "message"}
    assert [r["path"] for r in data["rejected"]] == sorted(rejected)
    json.dumps(data)


def test_unlabelled_decoded_too(tmp_path):
    kaggle_tree(tmp_path, n=2)
    (tmp_path / "test1" / "9.jpg").write_text("not an image")
    result = scan(tmp_path)
    assert result.unlabelled == ["test1/1.jpg", "test1/2.jpg"]
    assert result.rejected == [Rejection("test1/9.jpg", "not-image", result.rejected[0].message)]


def test_cache_second_scan_decodes_nothing(tmp_path, private_cache):
    kaggle_tree(tmp_path, n=3)
    bad_files(tmp_path / "train")
    first = scan(tmp_path)
    assert first.decoded == 15
    path = cache_file(tmp_path)
    assert path.parent == private_cache and path.exists()
    assert not any(p.name.startswith("scan-") for p in tmp_path.rglob("*"))
    second = scan(tmp_path)
    assert second.decoded == 0 and second == first
    touched = tmp_path / "train" / "cat.0.jpg"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert scan(tmp_path).decoded == 1
    assert scan(tmp_path, max_pixels=1000).decoded == 15  # other limit, other verdicts
    assert scan(tmp_path, cache=False).decoded == 15


def test_corrupt_cache_is_ignored(tmp_path):
    kaggle_tree(tmp_path, n=1)
    scan(tmp_path)
    cache_file(tmp_path).write_text("{not json")
    assert scan(tmp_path).decoded == 3


def test_worker_processes_agree_with_in_process(tmp_path):
    for i in range(40):
        save(tmp_path / "cats" / f"{i}.png")
        save(tmp_path / "dogs" / f"{i}.png")
    bad_files(tmp_path / "dogs")
    seen = []
    pooled = scan(tmp_path, workers=2, cache=False, progress=lambda done, total: seen.append((done, total)))
    assert pooled.decoded == 86 and seen[-1] == (86, 86)
    single = scan(tmp_path, workers=1, cache=False)
    assert pooled == single and len(pooled.rejected) == 6


def test_missing_root_is_data_error(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        scan(tmp_path / "missing")


def snapshot(root):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_quarantine_moves_keeps_paths_and_never_overwrites(tmp_path):
    root = tmp_path / "data"
    petimages_with_bad(root)
    result = scan(root)
    bad = {root / r.path for r in result.rejected}
    good_before = {p: v for p, v in snapshot(root).items() if p not in bad}
    dest = tmp_path / "q"
    occupied = dest / "PetImages" / "Cat" / "empty.jpg"
    occupied.parent.mkdir(parents=True)
    occupied.write_bytes(b"keep me")

    report_path = quarantine(result, dest)

    assert report_path == dest / "scan_report.json"
    assert snapshot(root) == good_before  # good files untouched, bad ones gone
    assert occupied.read_bytes() == b"keep me"
    assert (dest / "PetImages" / "Cat" / "empty.1.jpg").read_bytes() == b""
    assert (dest / "PetImages" / "Cat" / "truncated.jpg").exists()
    report = json.loads(report_path.read_text())
    assert report["classes"] == {"cat": 3, "dog": 4}
    moved = {r["path"]: r["moved_to"] for r in report["rejected"]}
    assert moved["PetImages/Cat/empty.jpg"] == "PetImages/Cat/empty.1.jpg"
    assert moved["PetImages/stray.jpg"] == "PetImages/stray.jpg"
    assert scan(root).rejected == []


def test_quarantine_refuses_data_folder(tmp_path):
    root = tmp_path / "data"
    petimages_with_bad(root)
    result = scan(root)
    with pytest.raises(DataError, match="data folder itself"):
        quarantine(result, root)
    with pytest.raises(DataError, match="inside the scanned data"):
        quarantine(result, root / "PetImages" / "Cat" / "bad")
    report = quarantine(result, root / "_quarantine")
    assert report.exists() and scan(root).rejected == []


def test_cache_write_failure_is_not_fatal(tmp_path, monkeypatch):
    kaggle_tree(tmp_path, n=1)

    def fail(path, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(scan_module, "write_atomic", fail)
    assert scan(tmp_path).counts() == {"cat": 1, "dog": 1}
