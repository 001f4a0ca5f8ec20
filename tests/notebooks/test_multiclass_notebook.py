"""notebooks/04_multiclass.ipynb: clean as committed, and it runs top to bottom on a tiny 4-class
example into an Explorer, an Atlas and a Compare panel of K-class runs."""

from __future__ import annotations

import json

import nbformat

from tests.notebooks.test_study_notebooks import (
    NOTEBOOKS,
    assert_clean_run,
    execute,
    outputs,
    widget_htmls,
    widget_views,
)

NAME = "04_multiclass.ipynb"
TINY = dict(CVD_MC_IMAGES=160, CVD_MC_SIZE=48, CVD_MC_EPOCHS=2, CVD_MC_STEPS=4)


def test_multiclass_notebook_is_clean():
    nb = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "os.environ.get(" in parameters[0].source


def test_multiclass_notebook_trains_four_classes_and_opens_the_three_panels(tmp_path, monkeypatch):
    data, runs = tmp_path / "data", tmp_path / "runs"
    monkeypatch.setenv("CVD_MC_DATA", str(data))
    monkeypatch.setenv("CVD_MC_RUNS", str(runs))
    for key, value in TINY.items():
        monkeypatch.setenv(key, str(value))
    nb = execute(NAME)
    assert_clean_run(nb)
    assert len(widget_views(nb)) == 3  # Explorer, Atlas, Compare
    summary = json.loads((runs / "a" / "summary.json").read_text())
    assert summary["classes"] == ["cat", "dog", "fox", "rabbit"]
    assert len(summary["confusion_matrix"]) == 4
    text = "".join(o.get("text", "") for o in outputs(nb) if o.output_type == "stream")
    assert "a: test accuracy" in text and "b: test accuracy" in text
    assert any("images of" in h for h in widget_htmls(nb))
    assert (runs / "a" / "atlas").is_dir()
