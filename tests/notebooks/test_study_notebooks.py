"""notebooks/01-03: clean as committed, and each runs top to bottom against small synthetic runs."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
STUDY = ("01_reference_study.ipynb", "02_explore.ipynb", "03_compare.ipynb")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(name: str) -> nbformat.NotebookNode:
    """Run a notebook in a fresh python3 kernel (environment inherited) and return it with outputs."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # ipykernel forwards C-level stderr (TensorFlow's) to the notebook, as under JupyterLab, only
    # when it does not see pytest
    current = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    finally:
        if current is not None:
            os.environ["PYTEST_CURRENT_TEST"] = current
    return nb


def outputs(nb: nbformat.NotebookNode) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def widget_views(nb: nbformat.NotebookNode) -> list:
    return [o for o in outputs(nb)
            if o.output_type in ("execute_result", "display_data") and WIDGET_VIEW in o.get("data", {})]


def widget_htmls(nb: nbformat.NotebookNode) -> list[str]:
    """Values of every HTML widget in the widget state saved with the executed notebook."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [m["state"].get("value", "") for m in state.values() if m.get("model_name") == "HTMLModel"]


def assert_clean_run(nb: nbformat.NotebookNode) -> None:
    errors = [o for o in outputs(nb) if o.output_type == "error"]
    assert not errors, errors
    stderr = [o.text for o in outputs(nb) if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr  # no TensorFlow start-up chatter in red under the cells
    shown = [h for h in widget_htmls(nb) if "⚠" in h]
    assert not shown, shown


def assert_committed_clean(name: str) -> None:
    """The committed notebook ``name`` is valid, has a kernelspec, no outputs and one parameters cell
    that reads the environment."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "os.environ.get(" in parameters[0].source


@pytest.mark.parametrize("name", STUDY)
def test_notebook_is_clean(name):
    assert_committed_clean(name)


@pytest.mark.slow
def test_explore_notebook_opens_the_run_misclassified_first(run_dir, monkeypatch):
    monkeypatch.setenv("CVD_RUN", str(run_dir))
    nb = execute("02_explore.ipynb")
    assert_clean_run(nb)
    assert len(widget_views(nb)) == 1
    assert any("misclassified of" in h for h in widget_htmls(nb))


@pytest.mark.slow
def test_compare_notebook_compares_two_runs(run_dir, run_b, monkeypatch):
    monkeypatch.setenv("CVD_RUN_A", str(run_dir))
    monkeypatch.setenv("CVD_RUN_B", str(run_b))
    nb = execute("03_compare.ipynb")
    assert_clean_run(nb)
    assert len(widget_views(nb)) == 1
    assert any("shared test images" in h for h in widget_htmls(nb))
    text = "".join(o.get("text", "") for o in outputs(nb) if o.output_type == "stream")
    assert "test accuracy" in text and "significant at 5%" in text


@pytest.mark.slow
def test_reference_study_notebook_trains_tiny_runs(tmp_path, monkeypatch):
    from cvd_explorer.data.synthetic import generate
    from cvd_explorer.runs.run import Run

    data, runs = tmp_path / "data", tmp_path / "runs"
    generate(data, n=60, size=48, seed=0)
    for key, value in dict(CVD_DATA=data, CVD_RUNS=runs, CVD_ARCHS="resnet-mini", CVD_EPOCHS=1, CVD_IMAGE_SIZE=32,
                           CVD_STEPS=2, CVD_VAL_STEPS=1, CVD_BATCH_SIZE=4, CVD_TRAIN_NOW=1).items():
        monkeypatch.setenv(key, str(value))
    nb = execute("01_reference_study.ipynb")
    assert_clean_run(nb)
    assert len(widget_views(nb)) == 1  # one TrainingPanel per architecture
    run = Run(runs / "resnet-mini")
    assert run.state == "finished" and run.predictions, run.state
    text = "".join(o.get("text", "") for o in outputs(nb) if o.output_type == "stream")
    assert "resnet-mini: finished" in text and "max validation accuracy" in text and "synthetic data" in text
    assert "usable labelled images" in text
