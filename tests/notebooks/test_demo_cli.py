"""`cvd-explorer demo --no-lab`: data, run and notebook, reusing finished work; the lab's working copy."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cvd_explorer.cli import demo, main
from cvd_explorer.config import TrainConfig
from cvd_explorer.runs.run import Run
from tests.widgets.helpers import RUN_SETTINGS, SYNTH_SETTINGS


def test_demo_no_lab_reuses_data_and_finished_run(run_dir, monkeypatch, capsys):
    # the session's small run was made from the same data and settings, so nothing is redone
    monkeypatch.setattr(demo, "demo_data", lambda: dict(SYNTH_SETTINGS))
    monkeypatch.setattr(demo, "demo_config", lambda: TrainConfig(**RUN_SETTINGS))
    before = (run_dir / "model.keras").stat().st_mtime_ns
    assert main(["demo", "--no-lab", "--data", str(run_dir.parent / "data"), "--run", str(run_dir)]) == 0
    out = capsys.readouterr().out
    wrong = sum(not r["correct"] for r in Run(run_dir).predictions)
    assert "(reused)" in out and f"{wrong} misclassified of" in out
    assert "00_demo.ipynb" in out and demo.RUN_ENV in out
    assert (run_dir / "model.keras").stat().st_mtime_ns == before


def test_notebook_copied_next_to_the_run_outside_a_checkout(tmp_path, monkeypatch):
    import cvd_explorer

    fake_pkg = tmp_path / "site-packages" / "cvd_explorer"
    fake_pkg.mkdir(parents=True)
    monkeypatch.setattr(cvd_explorer, "__file__", str(fake_pkg / "__init__.py"))
    path = demo.working_notebook(tmp_path / "runs" / "mini")
    assert path == tmp_path / "runs" / demo.NOTEBOOK and path.is_file()


def test_demo_options_and_training_settings():
    config = demo.demo_config()
    assert config.arch == "resnet-mini" and config.lr_schedule == "warmup-cosine"
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args(["--port", "8899", "--no-browser"])
    assert args.port == 8899 and args.no_browser and not args.no_lab
    assert args.data == "demo-data" and args.run.endswith("resnet-mini")


REPO = Path(__file__).resolve().parents[2]


def _run_default(notebook: Path) -> str:
    """The default of ``RUN`` in the notebook's parameter cell."""
    source = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][1]["source"])
    line = next(x for x in source.splitlines() if x.startswith("RUN = "))
    return json.loads(line.split(", ", 1)[1].rstrip(")"))


def test_lab_opens_a_working_copy_outside_the_tracked_files():
    """With the default --run, JupyterLab opens (and saves into) demo-runs/00_demo.ipynb, ignored by git."""
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    run_dir = REPO / parser.parse_args([]).run
    notebook = demo.working_notebook_path(run_dir)
    assert notebook == REPO / "demo-runs" / demo.NOTEBOOK
    cmd, root = demo.lab_command(notebook, None, True)
    assert root == notebook.parent and (root / cmd[3]) == notebook and f"--ServerApp.root_dir={root}" in cmd
    assert REPO / "notebooks" not in (root, *root.parents)
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    # the lab's root holds nothing git tracks, and git ignores the working copy
    tracked = subprocess.run(["git", "ls-files", "--", str(root)], cwd=REPO, capture_output=True, text=True, check=True)
    assert tracked.stdout == ""
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", str(notebook)], cwd=REPO)
    assert ignored.returncode == 0


def test_working_copy_finds_its_run_by_relative_path(tmp_path, monkeypatch):
    run_dir = tmp_path / "runs" / "mini"
    notebook = demo.working_notebook(run_dir)
    monkeypatch.chdir(notebook.parent)  # the lab's kernel starts in the notebook's folder
    assert Path(_run_default(notebook)).resolve() == run_dir.resolve()
    # the tracked notebook's default finds the default run from notebooks/ the same way
    assert (REPO / "notebooks" / _run_default(REPO / "notebooks" / demo.NOTEBOOK)).resolve() == \
        (REPO / "demo-runs" / "resnet-mini").resolve()
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    assert nb["cells"] == demo.demo_notebook(os.path.relpath(run_dir, notebook.parent))["cells"]


def test_working_copy_keeps_outputs_and_edits_and_backs_up_an_outdated_copy(tmp_path, monkeypatch):
    run_dir = tmp_path / "runs" / "mini"
    notebook = demo.working_notebook(run_dir)
    nb = json.loads(notebook.read_text(encoding="utf-8"))

    # after Run All: outputs saved into the copy, which is kept with them
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    nb["cells"][1]["execution_count"] = 1
    ran = json.dumps(nb, indent=1)
    notebook.write_text(ran, encoding="utf-8")
    assert demo.working_notebook(run_dir) == notebook and notebook.read_text(encoding="utf-8") == ran

    # edited by the user: kept byte for byte
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "mine", "metadata": {}, "outputs": [],
                        "source": ["explorer.layer = 3\n"]})
    edited = json.dumps(nb, indent=1)
    notebook.write_text(edited, encoding="utf-8")
    assert demo.working_notebook(run_dir) == notebook and notebook.read_text(encoding="utf-8") == edited
    notebook.write_text("not json", encoding="utf-8")  # whatever it holds, it is the user's
    assert demo.working_notebook(run_dir) == notebook and notebook.read_text(encoding="utf-8") == "not json"

    # an unedited copy of an older version of the demo's notebook: renamed, and the new one written
    current = demo.demo_notebook
    monkeypatch.setattr(demo, "demo_notebook", lambda run: _older(current(run)))
    notebook.unlink()
    demo.working_notebook(run_dir)
    old = notebook.read_text(encoding="utf-8")
    monkeypatch.undo()
    assert demo.working_notebook(run_dir) == notebook
    assert notebook.with_name(demo.NOTEBOOK + ".~1~").read_text(encoding="utf-8") == old
    assert json.loads(notebook.read_text(encoding="utf-8"))["cells"] == demo.demo_notebook("mini")["cells"]
    assert sorted(p.name for p in notebook.parent.iterdir()) == [demo.NOTEBOOK, demo.NOTEBOOK + ".~1~"]


def _older(nb: dict) -> dict:
    """``nb`` as an earlier version might have been: without its last cell."""
    nb["cells"] = nb["cells"][:-1]
    return nb
