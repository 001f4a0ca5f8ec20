"""``synth --classes N``: N cartoon kinds in a folder per class, masks, planted flips and copies, scan."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cvd_explorer.cli import main
from cvd_explorer.data.synthetic import KINDS, MAX_CLASSES, case_of, generate, render_scene
from cvd_explorer.errors import DataError

FOUR = ("cat", "dog", "fox", "rabbit")


def test_kinds_in_order_and_every_kind_draws_its_own_shape():
    assert KINDS[:6] == ("cat", "dog", "fox", "rabbit", "owl", "mouse") and len(KINDS) == MAX_CLASSES == 8
    scenes = {k: render_scene([4, 0, 1], k, 64, "normal", classes=KINDS) for k in KINDS}
    empty = render_scene([4, 0, 1], "fox", 64, "normal", classes=KINDS, draw_animal=False).image
    masks = {k: s.mask == 1 for k, s in scenes.items()}
    for k, s in scenes.items():
        assert set(np.unique(s.mask)) == {0, 1} and masks[k].sum() > 100
        # the same background and colours: the pixels outside every animal are the same scene
        union = np.any(np.stack(list(masks.values())), axis=0).astype(np.uint8)
        outside = cv2.dilate(union, np.ones((3, 3), np.uint8), iterations=2) == 0  # edges antialiased
        assert np.abs(s.image[outside].astype(int) - empty[outside]).max() <= 2
    for a in KINDS:  # no two kinds share a silhouette
        for b in KINDS[KINDS.index(a) + 1:]:
            union = (masks[a] | masks[b]).sum()
            assert (masks[a] & masks[b]).sum() / union < 0.8, (a, b)


def test_both_case_draws_another_kind_of_the_classes():
    others = set()
    for i in range(30):
        scene = render_scene([1, 2, i], "fox", 48, "both", classes=FOUR)
        assert scene.info["other"] in {"cat", "dog", "rabbit"} and (scene.mask == 2).any()
        others.add(scene.info["other"])
    assert others == {"cat", "dog", "rabbit"}
    assert "other" not in render_scene([1, 0, 0], "cat", 48, "both").info  # two kinds: as before


def test_classes_out_of_range_and_n_not_divisible_are_clear_errors(tmp_path, capsys):
    for bad in (1, 9):
        with pytest.raises(DataError, match=f"classes={bad}: use 2..8"):
            generate(tmp_path / "x", n=36, size=32, classes=bad)
    with pytest.raises(DataError, match="n=10: use a multiple of the 4 classes"):
        generate(tmp_path / "x", n=10, size=32, classes=4)
    assert not (tmp_path / "x").exists()
    assert main(["synth", str(tmp_path / "x"), "--classes", "9", "--n", "18"]) == 2
    assert "classes=9" in capsys.readouterr().err
    with pytest.raises(DataError, match="'owl'"):
        render_scene(0, "owl", 32, classes=FOUR)


def test_four_classes_on_disk_with_masks_flips_copies_and_scan(tmp_path, capsys, monkeypatch):
    from cvd_explorer.data.layout import detect_layout
    from cvd_explorer.data.scan import scan

    monkeypatch.setenv("CVD_EXPLORER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "four"
    assert main(["synth", str(out), "--classes", "4", "--n", "40", "--size", "32", "--seed", "5",
                 "--hard-fraction", "0.5", "--label-noise", "0.2", "--duplicates", "5", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "4 classes: cat, dog, fox, rabbit" in printed and "8 label flips, 5 copies" in printed
    meta = json.loads((out / "synthetic.json").read_text())
    assert meta["classes"] == list(FOUR) and len(meta["images"]) == 45
    assert not (out / "train").exists()
    for kind in FOUR:
        originals = [p for p in (out / kind).iterdir() if int(p.name.split(".")[1]) < 10]
        assert sorted(p.name for p in originals) == sorted(f"{kind}.{i}.jpg" for i in range(10))
    for entry in meta["images"]:
        kind = entry["path"].split("/")[0]
        assert entry["path"].startswith(f"{kind}/{kind}.") and entry["label"] == kind
        assert entry["mask"] == "_masks/" + entry["path"].rsplit(".", 1)[0] + ".png"
        mask = np.asarray(Image.open(out / entry["mask"]))
        assert (mask == 1).any() and set(np.unique(mask)) <= {0, 1, 2}
        assert (mask == 2).any() == (entry["case"] == "both")
        if entry["case"] == "both":
            assert entry["other"] in FOUR
    truth = json.loads((out / "synth-truth.json").read_text())
    assert truth["classes"] == list(FOUR) and len(truth["flipped"]) == 8 and len(truth["copies"]) == 5
    for flip in truth["flipped"]:  # the file shows the true class: the same pixels as that scene
        label, index = flip["path"].split("/")[1].split(".")[:2]
        assert flip["label"] == label != flip["shown"] == flip["true_class"] and flip["shown"] in FOUR
        scene = render_scene([5, FOUR.index(label), int(index)], flip["shown"], 32,
                             case_of(5, label, int(index), 0.5), classes=FOUR)
        buf = io.BytesIO()
        Image.fromarray(scene.image).save(buf, "JPEG", quality=92)
        assert (out / flip["path"]).read_bytes() == buf.getvalue()
    assert len({f["shown"] for f in truth["flipped"]}) > 1
    for copy in truth["copies"]:
        assert copy["path"].split("/")[0] == copy["copy_of"].split("/")[0]
        assert (out / copy["path"]).is_file()

    layout = detect_layout(out)
    assert layout.name == "folders" and layout.classes == FOUR and len(layout.labelled) == 45
    assert "synth-truth.json" in layout.ignored and "synthetic.json" in layout.ignored
    result = scan(out)
    assert result.layout == "folders" and result.classes == FOUR
    assert result.counts() == {"cat": 10 + sum(c["copy_of"].startswith("cat/") for c in truth["copies"]),
                               "dog": 10 + sum(c["copy_of"].startswith("dog/") for c in truth["copies"]),
                               "fox": 10 + sum(c["copy_of"].startswith("fox/") for c in truth["copies"]),
                               "rabbit": 10 + sum(c["copy_of"].startswith("rabbit/") for c in truth["copies"])}

    again = generate(out, n=40, size=32, seed=5, hard_fraction=0.5, label_noise=0.2, duplicates=5, classes=4)
    assert again.reused and again.classes == FOUR and (again.flipped, again.copies) == (8, 5)
    with pytest.raises(DataError, match="other parameters"):
        generate(out, n=40, size=32, seed=5, hard_fraction=0.5, label_noise=0.2, duplicates=5)
    with pytest.raises(DataError, match="other parameters"):
        generate(out, n=40, size=32, seed=5, hard_fraction=0.5, label_noise=0.2, duplicates=5, classes=5)


def test_eight_classes_are_deterministic(tmp_path):
    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    a = generate(tmp_path / "a", n=16, size=32, seed=2, hard_fraction=0.5, classes=8)
    generate(tmp_path / "b", n=16, size=32, seed=2, hard_fraction=0.5, classes=8)
    assert a.classes == KINDS and sum(a.cases.values()) == 16
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted([*KINDS, "_masks", "synthetic.json"])


def test_kaggle_names_are_a_folder_per_class_only_when_every_image_is_named_after_its_folder(tmp_path):
    from cvd_explorer.data.layout import detect_layout

    def tree(root: Path, names: list[str]) -> Path:
        for name in names:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8)).save(root / name)
        return root

    kaggle = detect_layout(tree(tmp_path / "k", ["train/cat.1.jpg", "train/dog.1.jpg", "test1/1.jpg"]))
    assert (kaggle.name, kaggle.unlabelled) == ("kaggle", ["test1/1.jpg"])
    beside = detect_layout(tree(tmp_path / "beside", ["train/cat.1.jpg", "dog/dog.1.jpg", "owl/1.png"]))
    assert (beside.name, beside.unlabelled) == ("kaggle", ["owl/1.png"])  # not every name is its folder's
    three = detect_layout(tree(tmp_path / "three", ["cat/cat.1.jpg", "dog/dog.2.jpg", "owl/owl.1.png"]))
    assert three.name == "folders" and three.classes == ("cat", "dog", "owl")


def test_source_text_covers_every_module_of_the_package():
    from cvd_explorer.data.synthetic import source_text

    text = source_text()
    assert all(f"# kinds/{kind}.py\n" in text for kind in KINDS)
    assert "# scene.py\n" in text and "def render_scene(" in text and "# writing.py\n" in text
