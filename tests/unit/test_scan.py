"""Scan: verdicts, JSON contract, cache, worker processes, quarantine."""

from __future__ import annotations

import importlib
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.data.scan import Rejection, cache_file, quarantine, scan
from cvd_explorer.data.synthetic import render_sample
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


# ----------------------------------------------------------------------------------------------
# Duplicates
# ----------------------------------------------------------------------------------------------


def _jpeg(arr, quality):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _decoded(data: bytes):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """40 synthetic scenes, 60 planted copies of them (exact, re-encoded, resized, recompressed)
    and 20 look-alikes: the same scene with the other animal (same background, colours, pose)."""
    root = tmp_path_factory.mktemp("planted")
    (root / "train").mkdir()
    copies: dict[str, str] = {}  # copy -> original
    kinds = ("exact-bytes", "exact-png", "q60", "half", "recompressed")
    twins = []
    for i in range(40):
        label = ("cat", "dog")[i % 2]
        image, _ = render_sample([5, i], label, 160)
        original = _jpeg(image, 92)
        name = f"train/{label}.{i}.jpg"
        (root / name).write_bytes(original)
        if i < 30:
            for k, kind in enumerate(kinds[:2] if i % 3 == 0 else kinds[2:]):
                copy = f"train/{label}.{1000 + 10 * i + k}.jpg"
                pixels = _decoded(original)
                if kind == "exact-bytes":
                    data = original
                elif kind == "exact-png":
                    buf = io.BytesIO()
                    Image.fromarray(pixels).save(buf, "PNG")
                    data = buf.getvalue()
                elif kind == "q60":
                    data = _jpeg(pixels, 60)
                elif kind == "half":
                    data = _jpeg(np.asarray(Image.fromarray(pixels).resize((80, 80), Image.Resampling.BILINEAR)), 85)
                else:
                    data = _jpeg(_decoded(_jpeg(pixels, 85)), 80)
                (root / copy).write_bytes(data)
                copies[copy] = name
        if i < 20:
            other = ("dog", "cat")[i % 2]
            twin, _ = render_sample([5, i], other, 160)
            twin_name = f"train/{other}.{5000 + i}.jpg"
            (root / twin_name).write_bytes(_jpeg(twin, 92))
            twins.append((name, twin_name))
    return root, copies, twins


def test_planted_copies_are_found_and_lookalikes_never_grouped(planted):
    root, copies, twins = planted
    result = scan(root)
    group_of = {p: n for n, g in enumerate(result.duplicates) for p in g.paths}
    found = sum(1 for copy, original in copies.items() if copy in group_of and group_of[copy] == group_of.get(original))
    assert found >= 0.95 * len(copies), f"found {found} of {len(copies)} planted copies"
    originals = {p for p, _ in result.accepted if int(p.split(".")[1]) < 1000}
    for group in result.duplicates:
        assert len(originals & set(group.paths)) == 1, f"two different images grouped: {group}"
    for a, b in twins:
        assert group_of.get(a) is None or group_of.get(a) != group_of.get(b)
    kinds = {g.paths: g.kind for g in result.duplicates}
    exact = [g for g in result.duplicates if g.kind == "exact"]
    assert len(exact) == 10 and all(len(g.paths) == 3 and g.similarity == 1.0 for g in exact)
    assert all(0.9 < g.similarity <= 1.0 for g in result.duplicates)
    assert len(kinds) == 30
    data = result.to_json()["duplicates"]
    assert data[0].keys() == {"kind", "paths", "similarity"} and all(p.startswith("train/") for p in data[0]["paths"])


def test_duplicates_are_cached_and_follow_changes(planted, tmp_path):
    root, copies, _ = planted
    first = scan(root)
    again = scan(root)
    assert again.decoded == 0 and again.duplicates == first.duplicates
    cache = json.loads(cache_file(root).read_text())
    assert cache["version"] == scan_module.CACHE_VERSION and cache["duplicates"]["groups"]
    copy = sorted(copies)[0]
    moved = tmp_path / "moved.jpg"
    (root / copy).rename(moved)
    try:
        changed = scan(root)
        assert changed.decoded == 0 and all(copy not in g.paths for g in changed.duplicates)
    finally:
        moved.rename(root / copy)
    assert scan(root).duplicates == first.duplicates


def test_candidate_pairs_match_brute_force():
    from cvd_explorer.data.duplicates import NEAR_HAMMING, candidate_pairs

    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 300, dtype=np.uint64)
    flips = np.array([sum(1 << int(b) for b in rng.choice(64, size=int(k), replace=False))
                      for k in rng.integers(0, 12, 300)], dtype=np.uint64)
    hashes = np.concatenate([base, base ^ flips])
    brute = {(i, j) for i in range(len(hashes)) for j in range(i + 1, len(hashes))
             if bin(int(hashes[i] ^ hashes[j])).count("1") <= NEAR_HAMMING}
    assert candidate_pairs(hashes) == brute and len(brute) > 150


def test_same_thumbnail_other_pixels_is_near_not_exact(tmp_path):
    from tests.unit.data_fixtures import distinct

    kaggle_tree(tmp_path, n=2)
    arr = np.asarray(Image.open(tmp_path / "train" / "cat.0.jpg").convert("RGB")).copy()
    save(tmp_path / "train" / "cat.7.png", arr)
    arr[3, 4, 1] ^= 1  # one value of one pixel: the thumbnail cannot tell, the pixel digest can
    save(tmp_path / "train" / "cat.8.png", arr)
    save(tmp_path / "train" / "dog.9.png", distinct(99))
    groups = scan(tmp_path).duplicates
    assert [(g.kind, g.paths) for g in groups] == [
        ("near", ("train/cat.0.jpg", "train/cat.7.png", "train/cat.8.png")),
    ]


@pytest.mark.parametrize("size", [128, 400])
def test_confirmation_threshold_has_margin_on_both_sides(size):
    from cvd_explorer.data.duplicates import CONFIRM_P99, NEAR_HAMMING, thumb_similarity
    from cvd_explorer.data.fingerprint import fingerprint

    copies, lookalikes, distance = [], [], []
    for s in range(12):
        original = _decoded(_jpeg(render_sample([9, s], "cat", size)[0], 92))
        a = fingerprint(original)
        variants = [
            _decoded(_jpeg(original, 60)),
            _decoded(_jpeg(np.asarray(Image.fromarray(original).resize((size // 2, size // 2))), 85)),
            _decoded(_jpeg(_decoded(_jpeg(original, 85)), 80)),
        ]
        for variant in variants:
            b = fingerprint(variant)
            copies.append(thumb_similarity(a.thumb, b.thumb)[0])
            distance.append(bin(a.phash ^ b.phash).count("1"))
        twin = fingerprint(_decoded(_jpeg(render_sample([9, s], "dog", size)[0], 92)))
        lookalikes.append(thumb_similarity(a.thumb, twin.thumb)[0])
    assert max(copies) <= CONFIRM_P99 - 8, copies
    assert min(lookalikes) >= CONFIRM_P99 + 10, lookalikes
    assert max(distance) <= NEAR_HAMMING - 2, distance
