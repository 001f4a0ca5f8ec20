"""`cvd-explorer scan` and `cvd-explorer split` through the dispatcher."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from cvd_explorer.cli import main
from tests.unit.data_fixtures import bad_files, kaggle_tree, petimages_tree


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CVD_EXPLORER_CACHE", str(tmp_path_factory.mktemp("cache")))


def test_scan_json_is_one_object(tmp_path, capsys):
    kaggle_tree(tmp_path, n=2)
    bad_files(tmp_path / "train")
    assert main(["scan", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert out.count("\n") == 1
    assert data["layout"] == "kaggle" and data["classes"] == {"cat": 2, "dog": 2}
    assert (data["accepted"], data["unlabelled"], data["ignored"]) == (4, 2, 0)
    assert sorted(r["reason"] for r in data["rejected"]) == sorted(
        ["empty", "corrupt", "not-image", "not-image", "unsupported", "too-large"]
    )


def test_scan_human_summary_and_quarantine(tmp_path, capsys):
    root = petimages_tree(tmp_path / "data", n=2)
    bad_files(root / "PetImages" / "Dog")
    dest = tmp_path / "q"
    assert main(["scan", str(root), "--quarantine", str(dest), "--workers", "1", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "layout petimages" in out and "cat 2, dog 2" in out
    assert "rejected 6" in out and "too-large (1)" in out and "PetImages/Dog/bomb.png" in out
    assert (dest / "scan_report.json").exists() and (dest / "PetImages" / "Dog" / "bomb.png").exists()
    assert not (root / "PetImages" / "Dog" / "bomb.png").exists()


def test_scan_missing_folder_one_line_error(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "missing"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert str(tmp_path / "missing") in captured.err


def test_scan_no_labelled_image(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert main(["scan", str(tmp_path)]) == 2
    assert "expected" in capsys.readouterr().err


def test_split_writes_then_reuses(tmp_path, capsys):
    kaggle_tree(tmp_path, n=7)
    assert main(["split", str(tmp_path), "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert f"manifest written: {tmp_path / 'manifest.csv'}" in out and "seed 2" in out
    assert "train" in out and "total" in out
    assert main(["split", str(tmp_path), "--seed", "2"]) == 0
    assert "manifest reused" in capsys.readouterr().out
    elsewhere = tmp_path.parent / f"{tmp_path.name}-m.csv"
    assert main(["split", str(tmp_path), "--manifest", str(elsewhere)]) == 0
    assert elsewhere.exists()


def test_help_texts_explain_layouts_and_reasons(capsys):
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    text = capsys.readouterr().out
    for word in ("petimages", "kaggle", "folders", "empty", "corrupt", "not-image", "unsupported",
                 "too-large", "unreadable", "--quarantine"):
        assert word in text
    with pytest.raises(SystemExit):
        main(["split", "--help"])
    assert "17,000/4,000/4,000" in capsys.readouterr().out


def _copy_of(root, source, name):
    """``name`` holding the same pixels as ``source``, saved as PNG (another file, same pixels)."""
    Image.open(root / source).convert("RGB").save(root / name, "PNG")


def test_scan_and_split_report_duplicates_and_an_old_manifest_leaking(tmp_path, capsys):
    kaggle_tree(tmp_path, n=6)
    _copy_of(tmp_path, "train/cat.0.jpg", "train/cat.40.png")
    _copy_of(tmp_path, "train/dog.1.jpg", "train/dog.41.png")
    assert main(["scan", str(tmp_path), "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["duplicates"]
    assert groups == [
        {"kind": "exact", "paths": ["train/cat.0.jpg", "train/cat.40.png"], "similarity": 1.0},
        {"kind": "exact", "paths": ["train/dog.1.jpg", "train/dog.41.png"], "similarity": 1.0},
    ]
    assert main(["split", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "kept 2 duplicate group(s) (4 images) together" in out and "leaks" not in out
    rows = (tmp_path / "manifest.csv").read_text().splitlines()
    assert rows[0] == "path,label,split,group"
    split_of = {r.split(",")[0]: r.split(",")[2:] for r in rows[1:]}
    assert split_of["train/cat.0.jpg"] == split_of["train/cat.40.png"] == [split_of["train/cat.0.jpg"][0], "g1"]
    # the same file set in the old form, a copy split from its original: reused and reported
    old = ["# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog", "path,label,split"]
    old += [f"{p},{p.split('/')[1].split('.')[0]},{'test' if p == 'train/cat.0.jpg' else 'train'}"
            for p in sorted(split_of)]
    (tmp_path / "manifest.csv").write_text("\n".join(old) + "\n")
    (tmp_path / "manifest.json").unlink()
    assert main(["split", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "manifest reused" in out and "written before duplicates were grouped" in out
    assert "1 test image(s) have a copy in train or val" in out and "--regroup" in out
    assert (tmp_path / "manifest.csv").read_text().startswith("# cvd-explorer manifest v1")  # not rewritten
    assert main(["split", str(tmp_path), "--regroup"]) == 0
    out = capsys.readouterr().out
    assert "manifest written" in out and "leaks" not in out and "moved to" in out
