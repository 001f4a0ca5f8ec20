"""Tests of the synthetic cats-and-dogs generator (cvd_explorer.data.synthetic, `synth` CLI)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cvd_explorer.cli import main
from cvd_explorer.data.synthetic import (
    CASES,
    HARD_CASES,
    LABELS,
    case_of,
    generate,
    render_sample,
    render_scene,
)
from cvd_explorer.errors import DataError


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- determinism -------------------------------------------------------------------------------


def test_render_sample_is_deterministic_and_seed_sensitive():
    for case in CASES:
        a_img, a_mask = render_sample(3, "cat", 64, case)
        b_img, b_mask = render_sample(np.random.default_rng(3), "cat", 64, case)
        assert a_img.dtype == np.uint8 and a_img.shape == (64, 64, 3)
        assert a_mask.dtype == np.uint8 and a_mask.shape == (64, 64)
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_mask, b_mask)
        c_img, _ = render_sample(4, "cat", 64, case)
        assert not np.array_equal(a_img, c_img)


def test_generate_is_byte_identical_and_extends_with_n(tmp_path):
    generate(tmp_path / "a", n=20, size=48, seed=5, hard_fraction=0.3)
    generate(tmp_path / "b", n=20, size=48, seed=5, hard_fraction=0.3)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a == b and len(a) == 41
    generate(tmp_path / "c", n=40, size=48, seed=5, hard_fraction=0.3)
    c = _files(tmp_path / "c")
    for name, data in a.items():
        if name != "synthetic.json":
            assert c[name] == data, name
    generate(tmp_path / "d", n=20, size=48, seed=6, hard_fraction=0.3)
    assert _files(tmp_path / "d")["train/cat.0.jpg"] != a["train/cat.0.jpg"]


# ---- layout and counts -------------------------------------------------------------------------


def test_layout_counts_and_metadata(tmp_path):
    out = tmp_path / "synth"
    info = generate(out, n=40, size=48, seed=1)
    assert not info.reused and sum(info.cases.values()) == 40
    images = sorted(p.name for p in (out / "train").iterdir())
    assert sum(n.startswith("cat.") for n in images) == 20
    assert sum(n.startswith("dog.") for n in images) == 20
    masks = sorted(p.name for p in (out / "_masks" / "train").iterdir())
    assert masks == sorted(n.replace(".jpg", ".png") for n in images)
    meta = json.loads((out / "synthetic.json").read_text())
    assert (meta["seed"], meta["n"], meta["size"], meta["complete"]) == (1, 40, 48, True)
    assert sorted(Path(e["path"]).name for e in meta["images"]) == images
    for e in meta["images"]:
        img = Image.open(out / e["path"])
        assert img.mode == "RGB" and img.size == (48, 48)
        mask = np.asarray(Image.open(out / e["mask"]))
        assert e["case"] in CASES
        ys, xs = np.nonzero(mask == 1)
        assert e["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_hard_share_is_as_asked(tmp_path):
    info = generate(tmp_path / "s", n=200, size=32, seed=0, hard_fraction=0.1)
    hard = {c: info.cases[c] for c in HARD_CASES}
    assert sum(hard.values()) == 20 and all(v > 0 for v in hard.values())
    meta = json.loads((tmp_path / "s" / "synthetic.json").read_text())
    for label in LABELS:
        kinds = [e["case"] for e in meta["images"] if e["label"] == label and e["case"] != "normal"]
        assert len(kinds) == 10 and set(kinds) == set(HARD_CASES)
    # the per-image case does not depend on n: the first images keep their case
    assert [case_of(0, "cat", i, 0.1) for i in range(100)] == [
        e["case"] for e in meta["images"] if e["label"] == "cat"
    ]
    assert all(case_of(3, "dog", i, 0.0) == "normal" for i in range(50))


# ---- masks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_mask_values_and_area(case):
    size = 64
    for seed in range(12):
        label = LABELS[seed % 2]
        sample = render_scene([11, seed], label, size, case)
        mask = sample.mask
        values = set(np.unique(mask).tolist())
        share1 = (mask == 1).mean()
        if case == "both":
            assert values == {0, 1, 2}
            assert share1 > (mask == 2).mean()
        else:
            assert values == {0, 1}
        assert 0.03 <= share1 <= 0.6, (seed, share1)
        if case == "occluded":
            assert 0.3 <= sample.info["occluded_fraction"] <= 0.6


@pytest.mark.parametrize("case", CASES)
def test_mask_covers_exactly_the_animal(case):
    """Inside the mask the image differs from the same scene without animals; outside it (one
    pixel of antialiased edge aside) the two are identical."""
    for seed in range(8):
        label = LABELS[seed % 2]
        img, mask = render_sample([2, seed], label, 64, case)
        bg, bg_mask = render_sample([2, seed], label, 64, case, draw_animal=False)
        np.testing.assert_array_equal(mask, bg_mask)
        differs = np.any(img != bg, axis=2)
        animal = mask > 0
        assert differs[animal].mean() >= 0.97
        diff = np.abs(img.astype(int) - bg).max(axis=2)
        rim1 = cv2.dilate(animal.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        rim2 = cv2.dilate(animal.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert diff[~rim1].max(initial=0) <= 3  # faint antialiased fringe of whisker tips
        assert not differs[~rim2].any()


# ---- colour is not a cue -----------------------------------------------------------------------


def _mean_colours(seeds, label) -> tuple[np.ndarray, np.ndarray]:
    """Per-image mean RGB, (len(seeds), 3) float64: whole image and inside mask 1."""
    whole, inside = [], []
    for s in seeds:
        img, mask = render_sample(s, label, 32)
        whole.append(img.reshape(-1, 3).mean(axis=0))
        inside.append(img[mask == 1].mean(axis=0))
    return np.array(whole), np.array(inside)


def test_colour_is_not_a_cue():
    """Mean RGB of 300 cats vs 300 dogs, over the whole image and inside the mask.

    Paired (same seeds, only the label differs): colours and background are shared, so any
    difference comes from shape alone: under 1 level (whole image) and 4 levels (inside the mask)
    per channel. Independent seeds: under 3 standard errors of the difference of the two means
    (about 9 levels per channel at most: fur colour varies a lot from image to image).
    """
    seeds = [[21, i] for i in range(300)]
    cat_whole, cat_inside = _mean_colours(seeds, "cat")
    dog_whole, dog_inside = _mean_colours(seeds, "dog")
    assert np.abs(cat_whole.mean(0) - dog_whole.mean(0)).max() < 1.0
    assert np.abs(cat_inside.mean(0) - dog_inside.mean(0)).max() < 4.0
    dog_whole, dog_inside = _mean_colours([[22, i] for i in range(300)], "dog")
    for cat, dog in ((cat_whole, dog_whole), (cat_inside, dog_inside)):
        se = np.sqrt(cat.var(0) / len(cat) + dog.var(0) / len(dog))
        assert se.max() < 3.5
        assert np.all(np.abs(cat.mean(0) - dog.mean(0)) < 3 * se)


# ---- refusals and reuse ------------------------------------------------------------------------


def test_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a synthetic output"):
        generate(tmp_path, n=4, size=32)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_rerun_reuses_and_other_parameters_refuse(tmp_path):
    out = tmp_path / "s"
    generate(out, n=8, size=32, seed=2)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    info = generate(out, n=8, size=32, seed=2)
    assert info.reused
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    with pytest.raises(DataError, match="choose another folder"):
        generate(out, n=8, size=32, seed=3)
    with pytest.raises(DataError):
        generate(tmp_path / "odd", n=7)


# ---- CLI ---------------------------------------------------------------------------------------


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["synth", str(out), "--n", "20", "--size", "64", "--seed", "1"]) == 0
    assert len(list((out / "train").glob("*.jpg"))) == 20
    assert len(list((out / "_masks" / "train").glob("*.png"))) == 20
    assert "wrote 20 images" in capsys.readouterr().out
    assert main(["synth", str(out), "--n", "20", "--size", "64", "--seed", "1", "--quiet"]) == 0
    assert "reused" in capsys.readouterr().out
    assert main(["synth", str(out), "--n", "20", "--size", "64", "--seed", "2"]) == 2
    assert "choose another folder" in capsys.readouterr().err


# ---- planted label noise and copies ------------------------------------------------------------


def test_label_noise_and_duplicates_truth_matches_disk(tmp_path, capsys, monkeypatch):
    from cvd_explorer.data.layout import detect_layout
    from cvd_explorer.data.scan import scan

    monkeypatch.setenv("CVD_EXPLORER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "noisy"
    assert main(["synth", str(out), "--n", "40", "--size", "64", "--seed", "3", "--label-noise", "0.1",
                 "--duplicates", "10", "--quiet"]) == 0
    assert "4 label flips, 10 copies" in capsys.readouterr().out
    truth = json.loads((out / "synth-truth.json").read_text())
    assert (truth["label_noise"], truth["duplicates"]) == (0.1, 10)
    assert len(truth["flipped"]) == 4 and len(truth["copies"]) == 10
    for flip in truth["flipped"]:  # the file shows the drawn class: same pixels as that scene rendered
        label, index = flip["path"].split("/")[1].split(".")[:2]
        assert flip["shown"] != flip["label"] == label
        case = case_of(3, label, int(index), 0.08)
        scene = render_scene([3, LABELS.index(label), int(index)], flip["shown"], 64, case)
        buf = io.BytesIO()
        Image.fromarray(scene.image).save(buf, "JPEG", quality=92)
        assert (out / flip["path"]).read_bytes() == buf.getvalue()
    kinds = {c["kind"] for c in truth["copies"]}
    assert kinds == {"exact", "reencoded", "resized", "lossless", "recompressed"}
    for copy in truth["copies"]:
        assert (out / copy["path"]).is_file() and copy["path"] != copy["copy_of"]
        a = np.asarray(Image.open(out / copy["path"]).convert("RGB"))
        b = np.asarray(Image.open(out / copy["copy_of"]).convert("RGB"))
        if copy["kind"] == "exact":
            assert (out / copy["path"]).read_bytes() == (out / copy["copy_of"]).read_bytes()
        elif copy["kind"] == "lossless":
            assert copy["path"].endswith(".png") and np.array_equal(a, b)
        elif copy["kind"] == "resized":
            assert a.shape == (32, 32, 3)
        else:
            assert a.shape == b.shape and not np.array_equal(a, b)
    layout = detect_layout(out)
    assert "synth-truth.json" in layout.ignored and len(layout.labelled) == 50
    result = scan(out)
    group_of = {p: g for g in result.duplicates for p in g.paths}
    assert all(group_of.get(c["path"]) is group_of.get(c["copy_of"]) is not None for c in truth["copies"])
    assert sum(len(g.paths) for g in result.duplicates) == 20
    again = generate(out, n=40, size=64, seed=3, label_noise=0.1, duplicates=10)
    assert again.reused and (again.flipped, again.copies) == (4, 10)
    with pytest.raises(DataError, match="other parameters"):
        generate(out, n=40, size=64, seed=3)
    assert not (tmp_path / "plain").exists()
    generate(tmp_path / "plain", n=4, size=32)
    assert not (tmp_path / "plain" / "synth-truth.json").exists()


def _tree_digest(root: Path) -> str:
    """sha256 over every file's relative path and bytes, in path order."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_generate_output_digest_is_unchanged(tmp_path):
    """The bytes of a small output (every case, and planted label noise and copies) stay as recorded.

    Recorded with numpy/OpenCV/Pillow of the project's venv: a change of the drawing code fails here. If
    a new OpenCV or Pillow release alone changes these bytes, re-record them and say so in the commit.
    """
    generate(tmp_path / "a", n=12, size=32, seed=3, hard_fraction=0.5)
    generate(tmp_path / "b", n=12, size=32, seed=3, hard_fraction=0.5, label_noise=0.2, duplicates=2)
    assert _tree_digest(tmp_path / "a") == "73108569adc9ea70c93bf1335c3260d3dfa4c7376a62c7d87ba977dc0a4b1e98"
    assert _tree_digest(tmp_path / "b") == "4bcd95a2bebf7f40ba27f5a6d6f9e68890af977893449c13d9f6132e36a53da6"
