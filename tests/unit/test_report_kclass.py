"""The report on two 10-class runs, on a trained run against an imported model, the per-class table of the
binary report, and the slice table of a run whose atlas has slices."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from cvd_explorer.runs import Run
from cvd_explorer.runs.imported_meta import NO_HISTORY
from tests.kclass_fixtures import DIGIT_CLASSES
from tests.unit.test_report import Page, decode, slug
from tests.unit.test_stats_per_class import wilson

pytestmark = pytest.mark.slow  # the fixtures train tiny models


def per_class_values(page: Page, run_index: int, name: str) -> tuple[float, float, float, int]:
    """(accuracy, low, high, images) of one class and run in the per-class table."""
    values = page.values("per-class-accuracy", name)
    acc, low, high, n = values[4 * run_index : 4 * run_index + 4]
    return acc, low, high, int(n)


def expected(run: Run, name: str) -> tuple[float, float, float, int]:
    flags = [bool(r["correct"]) for r in run.predictions if r["label"] == name]
    return (np.mean(flags), *wilson(sum(flags), len(flags)), len(flags))


@pytest.fixture(scope="module")
def digits_report(digits_run, digits_run_b, tmp_path_factory) -> tuple[Page, Path, list[Run]]:
    from cvd_explorer.report import build_report

    out = tmp_path_factory.mktemp("digits-report")
    page = build_report([digits_run, digits_run_b], out, samples_per_cell=1, metrics=False)
    return Page(page.read_text(encoding="utf-8")), out, [Run(digits_run), Run(digits_run_b)]


def test_per_class_table_of_two_ten_class_runs(digits_report):
    page, _, runs = digits_report
    assert [row[0][0] for row in page.tables["per-class-accuracy"][1:]] == list(DIGIT_CLASSES)
    for i, run in enumerate(runs):
        for name in DIGIT_CLASSES:
            got, want = per_class_values(page, i, name), expected(run, name)
            assert got[3] == want[3] and got[:3] == pytest.approx(want[:3], abs=1e-9), (run.name, name)
    text = page.text
    assert re.search(r"Per-class accuracy", text)


def test_confusion_figures_have_the_summary_counts(digits_report):
    page, out, runs = digits_report
    for run in runs:
        key = f"{slug(run)}-confusion"
        assert key in page.figures
        pixels = decode((out / "figures" / f"{key}.png").read_bytes())
        assert pixels.shape[0] > 400 and pixels.shape[1] > 400  # a 10 x 10 heatmap, larger than the 2 x 2 one
        matrix = np.array(run.summary["confusion_matrix"])
        assert matrix.shape == (10, 10) and matrix.trace() == sum(bool(r["correct"]) for r in run.predictions)


def test_the_explained_class_is_named(digits_report):
    page, _, runs = digits_report
    for run in runs:
        gradcam = page.figures[f"{slug(run)}-gradcam"]
        assert gradcam["alt"].startswith("Grad-CAM on correctly predicted images of each class")
    html_text = page.text
    assert "Grad-CAM of the predicted class (named above each map" in html_text
    assert "Grad-CAM of the predicted class (the wrong class it predicted, named in each row's title)" in html_text


def test_agreement_splits_the_shared_mistakes(digits_report):
    page, _, (a, b) = digits_report
    rows_a = {r["relpath"]: r for r in a.predictions}
    rows_b = {r["relpath"]: r for r in b.predictions}
    wrong = [k for k in rows_a if not rows_a[k]["correct"] and not rows_b[k]["correct"]]
    same = sum(rows_a[k]["predicted"] == rows_b[k]["predicted"] for k in wrong)
    table = f"compare-{slug(a)}-{slug(b)}-agreement"
    assert page.values(table, "both wrong") == [len(wrong)]
    assert page.values(table, "both wrong, same class") == [same]
    assert page.values(table, "both wrong, different classes") == [len(wrong) - same]


def test_report_of_a_trained_and_an_imported_ten_class_run(digits_run, imported_digits_run, tmp_path):
    from cvd_explorer.report import build_report

    page_path = build_report([digits_run, imported_digits_run], tmp_path / "report", samples_per_cell=1,
                             metrics=False)
    page = Page(page_path.read_text(encoding="utf-8"))
    imported = Run(imported_digits_run)
    assert page.text.count(f"{imported.name}: {NO_HISTORY}") == 2  # its own section and the comparison
    assert f"{slug(imported)}-curves" not in page.figures and f"{slug(imported)}-confusion" in page.figures
    assert per_class_values(page, 1, "7")[3] == expected(imported, "7")[3]


def test_binary_report_gains_the_per_class_table(built_report):
    page = Page(built_report.page.read_text(encoding="utf-8"))
    runs = [Run(p) for p in built_report.runs]
    assert [row[0][0] for row in page.tables["per-class-accuracy"][1:]] == list(runs[0].classes)
    for i, run in enumerate(runs):
        for name in run.classes:
            got, want = per_class_values(page, i, name), expected(run, name)
            assert got[3] == want[3] and got[:3] == pytest.approx(want[:3], abs=1e-9)
        assert f"{slug(run)}-confusion" in page.figures


def test_slice_table_of_an_atlas_with_slices(report_runs, tmp_path):
    """A real atlas of a (binary) run, given slices in the atlas's format (as the atlas pass writes them)."""
    from cvd_explorer.atlas import compute_atlas, store
    from cvd_explorer.report import build_report

    run_dir = tmp_path / "run"
    shutil.copytree(report_runs[0], run_dir, ignore=shutil.ignore_patterns("atlas"))
    atlas = compute_atlas(run_dir)
    members = sorted(atlas.rows, key=lambda r: (r.correct, r.path))[:4]
    errors = sum(not r.correct for r in members)
    overall = sum(not r.correct for r in atlas.rows) / len(atlas.rows)
    summary = json.loads((atlas.folder / store.SUMMARY).read_text())
    summary["slices"] = [{
        "id": 0, "size": 4, "paths": [r.path for r in members], "error_rate": errors / 4, "interval": [0.1, 0.9],
        "overall_error_rate": overall, "p_value": 0.003, "q_value": 0.012, "classes": {"cat": 3, "dog": 1},
    }]
    (atlas.folder / store.SUMMARY).write_text(json.dumps(summary))
    maps = np.random.default_rng(0).random((1, 2, 32, 32), np.float32)
    store.write_npz(atlas.folder / "slices.npz", {"maps": maps})
    page = Page(build_report([run_dir], tmp_path / "report", samples_per_cell=1, metrics=False)
                .read_text(encoding="utf-8"))
    s = slug(Run(run_dir))
    assert page.values(f"atlas-slices-{s}", "slice 0") == pytest.approx([4, errors / 4, 0.1, 0.9, overall, 0.012])
    assert f"atlas-slices-maps-{s}" in page.figures and "cat 3, dog 1" in page.text
    # an atlas without slices (every atlas before the slices pass) has no slice table
    del summary["slices"]
    (atlas.folder / store.SUMMARY).write_text(json.dumps(summary))
    page = Page(build_report([run_dir], tmp_path / "report2", samples_per_cell=1, metrics=False)
                .read_text(encoding="utf-8"))
    assert f"atlas-slices-{s}" not in page.ids and f"atlas-embedding-{s}" in page.figures
