"""Layout detection: kaggle, petimages, folders, skipped folders, errors."""

from __future__ import annotations

import os

import pytest

from cvd_explorer.data.layout import detect_layout
from cvd_explorer.errors import DataError
from tests.unit.data_fixtures import folders_tree, kaggle_tree, petimages_tree, save


def test_kaggle_flat_with_test1(tmp_path):
    kaggle_tree(tmp_path, n=2)
    (tmp_path / "sampleSubmission.csv").write_text("id,label\n")
    layout = detect_layout(tmp_path)
    assert layout.name == "kaggle" and layout.classes == ("cat", "dog")
    assert layout.labelled == [
        ("train/cat.0.jpg", "cat"),
        ("train/cat.1.jpg", "cat"),
        ("train/dog.0.jpg", "dog"),
        ("train/dog.1.jpg", "dog"),
    ]
    assert layout.unlabelled == ["test1/1.jpg", "test1/2.jpg"]
    assert layout.ignored == ["sampleSubmission.csv"]


def test_kaggle_root_is_train_folder_case_insensitive(tmp_path):
    save(tmp_path / "Cat.7.JPG")
    save(tmp_path / "DOG.8.jpeg")
    layout = detect_layout(tmp_path)
    assert layout.labelled == [("Cat.7.JPG", "cat"), ("DOG.8.jpeg", "dog")]


def test_petimages_with_thumbs_db(tmp_path):
    petimages_tree(tmp_path, n=2)
    (tmp_path / "readme[1].txt").write_text("MSR")
    layout = detect_layout(tmp_path)
    assert layout.name == "petimages" and layout.classes == ("cat", "dog")
    assert layout.labelled == [
        ("PetImages/Cat/0.jpg", "cat"),
        ("PetImages/Cat/1.jpg", "cat"),
        ("PetImages/Dog/0.jpg", "dog"),
        ("PetImages/Dog/1.jpg", "dog"),
    ]
    assert layout.ignored == ["PetImages/Cat/Thumbs.db", "PetImages/Dog/Thumbs.db", "readme[1].txt"]
    assert detect_layout(tmp_path / "PetImages").labelled[0] == ("Cat/0.jpg", "cat")


def test_generic_folders_sorted_second_positive(tmp_path):
    folders_tree(tmp_path / "wrapper", ("zebra", "horse"), n=2)
    save(tmp_path / "wrapper" / "zebra" / "noext", fmt="PNG")
    layout = detect_layout(tmp_path)
    assert layout.name == "folders" and layout.classes == ("horse", "zebra")
    assert ("wrapper/zebra/noext", "zebra") in layout.labelled
    assert len(layout.labelled) == 5 and layout.unlabelled == []


def test_skipped_folders_and_dotfiles(tmp_path):
    folders_tree(tmp_path, n=1)
    for hidden in (".ipynb_checkpoints", "__MACOSX", "_masks/cats", "_quarantine"):
        save(tmp_path / hidden / "x.png")
    (tmp_path / "cats" / ".DS_Store").write_bytes(b"x")
    (tmp_path / "cats" / "._0.png").write_bytes(b"x")
    (tmp_path / "cats" / "desktop.ini").write_text("x")
    layout = detect_layout(tmp_path)
    assert layout.labelled == [("cats/0.png", "cats"), ("dogs/0.png", "dogs")]
    assert layout.ignored == ["cats/.DS_Store", "cats/._0.png", "cats/desktop.ini"]


def test_symlinked_folder_not_followed(tmp_path):
    folders_tree(tmp_path / "data", n=1)
    save(tmp_path / "outside" / "x.png")
    os.symlink(tmp_path / "outside", tmp_path / "data" / "cats" / "link")
    assert len(detect_layout(tmp_path / "data").labelled) == 2


def test_three_class_folders_are_three_classes(tmp_path):
    folders_tree(tmp_path, ("cats", "dogs", "birds"), n=1)
    layout = detect_layout(tmp_path)
    assert layout.name == "folders" and layout.classes == ("birds", "cats", "dogs")
    assert [c for _, c in layout.labelled] == ["birds", "cats", "dogs"]


@pytest.mark.parametrize("case", ["missing", "file", "empty", "one-folder"])
def test_unusable_roots(tmp_path, case):
    root = tmp_path / "data"
    if case == "file":
        root.write_text("x")
    elif case == "empty":
        root.mkdir()
        (root / "notes.txt").write_text("x")
    elif case == "one-folder":
        folders_tree(root, ("cats",), n=1)
    with pytest.raises(DataError) as info:
        detect_layout(root)
    message = str(info.value)
    assert str(root) in message and "expected" in message and "\n" not in message


def test_folders_already_split_are_merged_by_class(tmp_path):
    for split, n in (("train", 3), ("validation", 2)):
        for cls in ("cats", "dogs"):
            for i in range(n):
                save(tmp_path / "cats_and_dogs_filtered" / split / cls / f"{cls}.{split}.{i}.jpg")
    save(tmp_path / "cats_and_dogs_filtered" / "test" / "1.jpg")  # no class folder: unlabelled
    layout = detect_layout(tmp_path)
    assert layout.name == "split-folders" and layout.classes == ("cats", "dogs")
    assert sum(1 for _, c in layout.labelled if c == "cats") == 5
    assert sum(1 for _, c in layout.labelled if c == "dogs") == 5
    assert layout.unlabelled == ["cats_and_dogs_filtered/test/1.jpg"]


def test_two_class_folders_named_like_splits_stay_classes(tmp_path):
    for cls in ("train", "test"):  # odd but legal class names, with images directly inside
        save(tmp_path / cls / "a.jpg")
    assert detect_layout(tmp_path).name == "folders"
