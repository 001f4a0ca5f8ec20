"""`cvd-explorer scan` and `cvd-explorer split` through the dispatcher."""

from __future__ import annotations

import json

import pytest

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
