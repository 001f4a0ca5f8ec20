"""notebooks/04_multiclass.ipynb: clean as committed, and it runs top to bottom on a tiny 4-class
example into an Explorer, an Atlas and a Compare panel of K-class runs."""

from __future__ import annotations

import json

from tests.multiclass_fixtures import NAME, MulticlassNotebook
from tests.notebooks.test_study_notebooks import (
    assert_clean_run,
    assert_committed_clean,
    outputs,
    widget_htmls,
    widget_views,
)


def test_multiclass_notebook_is_clean():
    assert_committed_clean(NAME)


def test_multiclass_notebook_trains_four_classes_and_opens_the_three_panels(multiclass_notebook: MulticlassNotebook):
    nb, runs = multiclass_notebook.nb, multiclass_notebook.runs  # the first execution: it trained both runs
    assert_clean_run(nb)
    assert len(widget_views(nb)) == 3  # Explorer, Atlas, Compare
    summary = json.loads((runs / "a" / "summary.json").read_text())
    assert summary["classes"] == ["cat", "dog", "fox", "rabbit"]
    assert len(summary["confusion_matrix"]) == 4
    assert json.loads((runs / "b" / "summary.json").read_text())["classes"] == summary["classes"]
    text = "".join(o.get("text", "") for o in outputs(nb) if o.output_type == "stream")
    assert "a: test accuracy" in text and "b: test accuracy" in text
    assert any("images of" in h for h in widget_htmls(nb))
    assert (runs / "a" / "atlas").is_dir()
