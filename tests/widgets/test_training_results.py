"""The TrainingPanel shows per-class accuracy once a run has finished, for two classes and for K."""

from __future__ import annotations

import json
import re
import shutil

import pytest


def _table(html_text: str) -> dict[str, list[str]]:
    rows = re.findall(r"<tr data-class='([^']*)'>(.*?)</tr>", html_text)
    return {name: re.findall(r"<td>(.*?)</td>", cells) for name, cells in rows}


@pytest.mark.parametrize("fixture", ["run_dir", "digits_run"])
def test_finished_run_shows_per_class_accuracy_from_its_summary(fixture, request):
    from cvd_explorer.widgets import TrainingPanel

    run = request.getfixturevalue(fixture)
    summary = json.loads((run / "summary.json").read_text())
    panel = TrainingPanel(run, background=False)
    try:
        assert panel.state == "finished"
        table = _table(panel.results.value)
        assert list(table) == summary["classes"]
        for k, name in enumerate(summary["classes"]):
            accuracy = summary["per_class_accuracy"][name]
            cells = table[name]
            assert cells[1] == ("-" if accuracy is None else f"{accuracy:.3f}")
            assert int(cells[2]) == sum(summary["confusion_matrix"][k])
        assert f"test accuracy {summary['test_accuracy']:.3f}" in panel.results.value
    finally:
        panel.close()


def test_damaged_summary_is_reported_not_raised(run_dir, tmp_path):
    from cvd_explorer.widgets import TrainingPanel

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("*.keras", "tensorboard", "probes"))
    (copy / "summary.json").write_text("{not json")
    panel = TrainingPanel(copy, background=False)
    try:
        assert panel.results.value == ""
        assert "summary.json" in panel.error.value and "damaged" in panel.error.value
    finally:
        panel.close()
