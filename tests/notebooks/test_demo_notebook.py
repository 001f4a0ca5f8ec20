"""notebooks/00_demo.ipynb: clean as committed, and it runs top to bottom into an Explorer and an Atlas, and
its "Find the shortcut" section, on the finished shortcut run of the tests (no training), into the slice table
and an Explorer restricted to the first slice."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from cvd_explorer.cli.demo import RUN_ENV, SHORTCUT_RUN_ENV, demo_notebook
from tests.unit.demo_fixture import copy_run
from tests.unit.shortcut_fixture import shortcut_run

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "00_demo.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_notebook_is_clean_and_current():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    # the committed file is what `cvd-explorer demo` writes when installed outside a checkout
    assert json.loads(NOTEBOOK.read_text(encoding="utf-8")) == demo_notebook()


def test_notebook_executes_into_an_explorer_and_an_atlas(run_dir, monkeypatch, tmp_path):
    from cvd_explorer.atlas import compute_atlas
    from cvd_explorer.runs import Run

    monkeypatch.setenv(RUN_ENV, str(run_dir))
    shortcut = copy_run(shortcut_run(), tmp_path / "shortcut")  # finished: the section does not train
    monkeypatch.setenv(SHORTCUT_RUN_ENV, str(shortcut))
    # ipykernel forwards C-level stderr (TensorFlow's) to the notebook, as under JupyterLab, only
    # when it does not see pytest
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr  # no TensorFlow start-up chatter in red under the cells
    views = [o for o in outputs
             if o.output_type in ("execute_result", "display_data") and WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 3, outputs  # the Explorer, the Atlas linked to it, the shortcut's first slice
    # the section printed the first slices of the shortcut run's atlas (computed by the notebook)
    slices = compute_atlas(shortcut).slices  # reused: what the notebook wrote
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    table = re.findall(r"^slice (\d+): (\d+) images, error rate ([\d.]+) \[([\d.]+), ([\d.]+)\] "
                       r"\(overall ([\d.]+)\), q = \S+, true classes \{.+\}$", stdout, re.M)
    assert [(int(t[0]), int(t[1]), float(t[2])) for t in table] == [
        (i, s["size"], round(s["error_rate"], 2)) for i, s in enumerate(slices[:3])], stdout
    assert all(float(lo) <= float(e) <= float(hi) for _, _, e, lo, hi, _ in table), table
    # the widget state saved with the notebook holds the filled-in views (no error shown)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    htmls = [m["state"].get("value", "") for m in state.values() if m.get("model_name") == "HTMLModel"]
    assert not any("⚠" in h for h in htmls), [h for h in htmls if "⚠" in h]
    assert any("images of" in h for h in htmls)
    # the third view: an Explorer showing exactly the first slice's images
    first, total = slices[0]["size"], len(Run(shortcut).predictions)
    assert any(f"{first:,} images of {total:,} (atlas selection: {first:,})" in h for h in htmls), htmls
    # the small run has no atlas: the Atlas says how to make one instead of failing
    assert any("cvd-explorer atlas" in h for h in htmls)
