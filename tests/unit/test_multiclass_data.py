"""K >= 2 classes in the data layer: class folders, the Oxford-IIIT Pet layout, splits, manifests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvd_explorer.cli import main
from cvd_explorer.data.layout import detect_layout
from cvd_explorer.data.scan import scan
from cvd_explorer.data.split import (
    ensure_manifest,
    make_split,
    read_manifest,
    sidecar_path,
    split_sizes,
    write_manifest,
)
from cvd_explorer.errors import DataError
from tests.unit.data_fixtures import distinct, folders_tree, save

DIGITS = tuple(str(i) for i in range(11))  # "0" ... "10"


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CVD_EXPLORER_CACHE", str(tmp_path_factory.mktemp("cache")))


# ------------------------------------------------------------------------------------------ class folders
def test_number_named_folders_are_names_in_string_order(tmp_path):
    folders_tree(tmp_path / "digits", DIGITS, n=1)
    layout = detect_layout(tmp_path)
    assert layout.name == "folders"
    assert layout.classes == ("0", "1", "10", "2", "3", "4", "5", "6", "7", "8", "9")  # "10" before "2"
    assert all(isinstance(c, str) for _, c in layout.labelled)
    assert ("digits/3/0.png", "3") in layout.labelled


def test_split_folders_with_three_classes(tmp_path):
    for split, n in (("train", 3), ("validation", 2)):
        for cls in ("bird", "cat", "dog"):
            for i in range(n):
                save(tmp_path / split / cls / f"{i}.jpg", distinct(100 * len(split) + 10 * len(cls) + i))
    layout = detect_layout(tmp_path)
    assert layout.name == "split-folders" and layout.classes == ("bird", "cat", "dog")
    assert {c: sum(1 for _, x in layout.labelled if x == c) for c in layout.classes} == {"bird": 5, "cat": 5, "dog": 5}


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_single_class_folder_is_an_error_naming_it(tmp_path, wrapped):
    root = tmp_path / "data"
    folders_tree(root / "wrapper" if wrapped else root, ("cats",), n=3)
    with pytest.raises(DataError, match=r"single class folder 'cats'.*at least two") as info:
        detect_layout(root)
    assert str(root) in str(info.value) and "\n" not in str(info.value)


def test_split_folders_of_a_single_class_are_an_error_naming_it(tmp_path):
    for split in ("train", "validation"):
        folders_tree(tmp_path / split, ("cats",), n=2)
    with pytest.raises(DataError, match=r"single class folder 'cats'") as info:
        detect_layout(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_a_class_of_fewer_than_three_images_names_the_class(tmp_path):
    folders_tree(tmp_path, ("ant", "bee"), n=4)
    folders_tree(tmp_path, ("wasp",), n=2)
    with pytest.raises(DataError, match=r"too few accepted images of wasp \(2\).*at least 3"):
        make_split(scan(tmp_path))
    save(tmp_path / "wasp" / "9.png", distinct(999))
    assert make_split(scan(tmp_path)).classes == ("ant", "bee", "wasp")


def test_split_stratifies_each_of_k_classes_and_keeps_groups_together(tmp_path):
    names = ("a", "b", "c", "d")
    for c, name in enumerate(names):
        for i in range(10 + 3 * c):
            save(tmp_path / name / f"{i}.png", distinct(5000 + 100 * c + i))
    copies = [("b", 0), ("b", 1), ("d", 4)]
    for name, i in copies:  # exact copies inside the class folder
        save(tmp_path / name / f"{i}_copy.png", distinct(5000 + 100 * names.index(name) + i))
    result = scan(tmp_path)
    assert len(result.duplicates) == len(copies)
    manifest = make_split(result, seed=3)
    assert manifest.classes == names and manifest.group_count == len(copies)
    counts = manifest.counts()
    for name in names:
        n = sum(counts[s][name] for s in counts)
        assert (counts["train"][name], counts["val"][name], counts["test"][name]) == split_sizes(n)
    for group in {r.group for r in manifest.rows if r.group}:
        assert len({r.split for r in manifest.rows if r.group == group}) == 1
    assert make_split(result, seed=3).to_bytes() == manifest.to_bytes()


def test_k_class_manifest_round_trip_and_sidecar(tmp_path):
    folders_tree(tmp_path, DIGITS, n=3)
    manifest, reused = ensure_manifest(tmp_path, seed=1)
    assert not reused and manifest.classes == tuple(sorted(DIGITS))
    meta = json.loads(sidecar_path(manifest.path).read_text())
    assert meta["classes"] == ["0", "1", "10", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert "class_mode" not in meta  # only the Oxford layout has one
    again = read_manifest(manifest.path)
    assert again == manifest and again.classes == manifest.classes
    assert [manifest.label_index(c) for c in ("0", "10", "2")] == [0, 2, 3]
    assert ensure_manifest(tmp_path, seed=1)[1]  # reused
    sidecar_path(manifest.path).unlink()  # the CSV alone: the sorted labels of the rows
    assert read_manifest(manifest.path).classes == manifest.classes


def test_v2_sidecar_with_more_classes_than_rows_keeps_its_order(tmp_path):
    folders_tree(tmp_path, ("x", "y", "z"), n=3)
    manifest, _ = ensure_manifest(tmp_path)
    manifest.rows = [r for r in manifest.rows if r.label != "z"]
    write_manifest(manifest, tmp_path / "m.csv")
    assert read_manifest(tmp_path / "m.csv").classes == ("x", "y", "z")


def test_scan_cli_lists_k_classes_in_order(tmp_path, capsys):
    folders_tree(tmp_path, ("zebra", "Ant", "mole"), n=7)
    assert main(["scan", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["class_names"] == ["Ant", "mole", "zebra"] and list(data["classes"]) == data["class_names"]
    assert main(["scan", str(tmp_path)]) == 0
    assert "3 classes in index order: Ant, mole, zebra" in capsys.readouterr().out
    assert main(["split", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 classes" in out
    rows = out.splitlines()[-5:]  # one row per class, then the totals
    assert [r.split()[0] for r in rows] == ["class", "Ant", "mole", "zebra", "total"]
    assert rows[1].split()[1:] == ["5", "1", "1", "7"] and rows[-1].split()[1:] == ["15", "3", "3", "21"]


# ------------------------------------------------------------------------------------------ Oxford-IIIT Pet
BREEDS = {"Abyssinian": 4, "Bengal": 3, "american_pit_bull_terrier": 4, "beagle": 5}


def trimap(seed: int, height: int = 20, width: int = 30) -> np.ndarray:
    """uint8 (H, W): 2 background, 1 a pet rectangle, 3 its border."""
    rng = np.random.default_rng(seed)
    t = np.full((height, width), 2, np.uint8)
    top, left = int(rng.integers(1, 6)), int(rng.integers(1, 10))
    t[top:top + 10, left:left + 15] = 3
    t[top + 1:top + 9, left + 1:left + 14] = 1
    return t


def oxford_tree(root, wrapper: str = ""):
    """``images/<Breed>_<n>.jpg`` (all different) and their trimaps, plus list.txt and a .mat stray."""
    base = root / wrapper if wrapper else root
    seed = 0
    for breed, n in BREEDS.items():
        for i in range(1, n + 1):
            seed += 1
            save(base / "images" / f"{breed}_{i}.jpg", distinct(7000 + seed, 20, 30))
            save(base / "annotations" / "trimaps" / f"{breed}_{i}.png", trimap(seed))
    (base / "images" / "Abyssinian_100.mat").write_bytes(b"MATLAB")
    (base / "annotations" / "list.txt").write_text("#Image CLASS-ID SPECIES BREED ID\n")
    return root


@pytest.mark.parametrize("wrapper", ["", "oxford-iiit-pet"])
def test_oxford_breeds_by_default(tmp_path, wrapper):
    oxford_tree(tmp_path, wrapper)
    layout = detect_layout(tmp_path)
    assert layout.name == "oxford-pet" and layout.class_mode == "breeds"
    assert layout.classes == ("Abyssinian", "Bengal", "american_pit_bull_terrier", "beagle")
    prefix = f"{wrapper}/" if wrapper else ""
    assert (f"{prefix}images/american_pit_bull_terrier_4.jpg", "american_pit_bull_terrier") in layout.labelled
    assert len(layout.labelled) == sum(BREEDS.values()) and layout.unlabelled == []
    assert f"{prefix}annotations/trimaps/Bengal_1.png" in layout.ignored  # masks, not samples
    assert f"{prefix}images/Abyssinian_100.mat" in layout.ignored


def test_oxford_species_collapses_to_cat_dog(tmp_path):
    oxford_tree(tmp_path)
    layout = detect_layout(tmp_path, classes="species")
    assert layout.classes == ("cat", "dog") and layout.class_mode == "species"
    labels = dict(layout.labelled)
    assert labels["images/Bengal_2.jpg"] == "cat" and labels["images/beagle_5.jpg"] == "dog"
    assert sum(1 for c in labels.values() if c == "cat") == 7


def test_classes_option_applies_to_oxford_only(tmp_path):
    folders_tree(tmp_path, ("cats", "dogs"))
    with pytest.raises(DataError, match=r"Oxford-IIIT Pet layout only.*folders"):
        detect_layout(tmp_path, classes="species")
    with pytest.raises(DataError, match=r"expected one of breeds, species"):
        detect_layout(tmp_path, classes="genus")


def test_images_folder_of_class_folders_is_not_oxford(tmp_path):
    folders_tree(tmp_path / "images", ("cats", "dogs"))  # a wrapper that happens to be called images
    layout = detect_layout(tmp_path)
    assert layout.name == "folders" and layout.classes == ("cats", "dogs")


def test_oxford_scan_and_split_cli_record_the_class_mode(tmp_path, capsys):
    oxford_tree(tmp_path)
    assert main(["scan", str(tmp_path), "--json", "--classes", "species"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["layout"] == "oxford-pet" and data["class_names"] == ["cat", "dog"]
    assert data["class_mode"] == "species" and data["classes"] == {"cat": 7, "dog": 9}
    assert main(["split", str(tmp_path), "--classes", "species"]) == 0
    assert "positive class 'dog', species" in capsys.readouterr().out
    meta = json.loads((tmp_path / "manifest.json").read_text())
    assert meta["classes"] == ["cat", "dog"] and meta["class_mode"] == "species" and meta["layout"] == "oxford-pet"
    assert main(["split", str(tmp_path)]) == 0  # no --classes: the manifest keeps its choice
    assert "manifest reused" in capsys.readouterr().out
    manifest, reused = ensure_manifest(tmp_path)  # the Python API too
    assert reused and manifest.class_mode == "species" and manifest.classes == ("cat", "dog")
    manifest, reused = ensure_manifest(tmp_path, classes="breeds")
    assert not reused and len(manifest.classes) == 4 and manifest.previous is not None
    assert read_manifest(tmp_path / "manifest.csv").class_mode == "breeds"


def test_oxford_trimap_masks(tmp_path):
    from cvd_explorer.data import oxford_mask, oxford_trimap_mask, oxford_trimap_path

    oxford_tree(tmp_path, "wrap")
    path = tmp_path / "wrap" / "annotations" / "trimaps" / "beagle_2.png"
    expected = trimap(4 + 3 + 4 + 2)  # beagle_2 is the 13th image oxford_tree draws
    mask = oxford_trimap_mask(path)
    assert mask.dtype == np.bool_ and mask.shape == (20, 30)
    np.testing.assert_array_equal(mask, expected != 2)  # pet = 1 or 3
    assert oxford_trimap_path(tmp_path, "wrap/images/beagle_2.jpg") == path
    assert oxford_trimap_path(tmp_path, tmp_path / "wrap" / "images" / "beagle_2.jpg") == path
    np.testing.assert_array_equal(oxford_mask(tmp_path, "wrap/images/beagle_2.jpg"), mask)
    small = oxford_mask(tmp_path, "wrap/images/beagle_2.jpg", size=10)
    assert small is not None and small.shape == (10, 10) and small.dtype == np.bool_
    assert small.any() and not small.all()
    path.unlink()
    assert oxford_mask(tmp_path, "wrap/images/beagle_2.jpg") is None


def test_a_file_that_is_not_a_trimap_is_refused(tmp_path):
    from cvd_explorer.data import oxford_trimap_mask

    bad = save(tmp_path / "x.png", np.full((4, 4), 200, np.uint8))
    with pytest.raises(DataError, match=r"x.png: not an Oxford-IIIT Pet trimap"):
        oxford_trimap_mask(bad)
    (tmp_path / "y.png").write_text("text")
    with pytest.raises(DataError, match=r"y.png: cannot read"):
        oxford_trimap_mask(tmp_path / "y.png")


def test_cat_and_dog_beside_a_third_class_folder_are_three_classes(tmp_path):
    folders_tree(tmp_path, ("bird", "Cat", "Dog"), n=1)
    layout = detect_layout(tmp_path)
    assert layout.name == "folders" and layout.classes == ("Cat", "Dog", "bird")
