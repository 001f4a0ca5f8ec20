"""Must show of the multi-class issue: on a 10-class folder data set with class folders ``0`` ... ``9``
the whole command line works: scan, split, train (the session fixtures ``digits_run`` and
``digits_run_b`` are trained by ``cvd-explorer train``), atlas, and report on two runs."""

from __future__ import annotations

import json
import re

import numpy as np

from cvd_explorer.cli import main
from tests.kclass_fixtures import DIGIT_CLASSES


def test_scan_json_lists_the_ten_classes_in_order(digits_data, capsys):
    assert main(["scan", str(digits_data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["class_names"] == list(DIGIT_CLASSES)


def test_split_stratifies_the_ten_classes(digits_data):
    from cvd_explorer.data.split import read_manifest

    manifest = read_manifest(digits_data / "manifest.csv")
    assert manifest.classes == DIGIT_CLASSES
    for name in DIGIT_CLASSES:
        counts = {s: sum(r.label == name for r in manifest.split_rows(s)) for s in ("train", "val", "test")}
        assert counts["train"] > counts["test"] >= 1 and counts["val"] >= 1, (name, counts)


def test_atlas_command_on_a_ten_class_run(digits_run, capsys):
    assert main(["atlas", str(digits_run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    from cvd_explorer.atlas import find_atlas
    from cvd_explorer.runs import Run

    run = Run(digits_run)
    atlas = find_atlas(run)
    assert atlas is not None and printed
    rows = atlas.rows
    predictions = {p["relpath"]: p for p in run.predictions}
    assert len(rows) == len(predictions)
    for row in rows:  # the atlas's predictions are the run's
        assert row.prediction == predictions[row.path]["predicted"], row.path
    confusion = atlas.summary["confusion"]
    assert confusion["classes"] == list(DIGIT_CLASSES)
    assert confusion["matrix"] == json.loads((digits_run / "summary.json").read_text())["confusion_matrix"]
    matrix = np.array(confusion["matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == len(rows) == printed["images"]
    assert np.trace(matrix) / matrix.sum() == printed["accuracy"] == np.mean([r.correct for r in rows])
    probs = atlas.probs
    assert probs.shape == (len(rows), 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    for i, row in enumerate(rows):  # p is the predicted class's probability, the largest of the ten
        assert abs(row.p - max(predictions[row.path]["probs"])) < 1e-4
        assert abs(row.p - float(probs[i].max())) < 1e-6 and row.prediction == DIGIT_CLASSES[int(probs[i].argmax())]
    assert printed["explained"] == "predicted class"
    assert {"slices", "issues"} <= set(printed)
    json.dumps(printed, allow_nan=False)
    assert len(printed["depth"]["by_class"]) == 10  # a depth curve per class, for the panel to pick from


def test_report_of_two_ten_class_runs(digits_run, digits_run_b, tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(digits_run), str(digits_run_b), "--out", str(out), "--samples", "1",
                 "--no-metrics"]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(r"<h\d[^>]*>[^<]*per-class[^<]*</h\d>", page, re.IGNORECASE)
    for name in DIGIT_CLASSES:
        assert f">{name}<" in page
    summary = json.loads((digits_run / "summary.json").read_text())
    matrix = np.array(summary["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert len(list((out / "figures").glob("*confusion*.png"))) >= 2
