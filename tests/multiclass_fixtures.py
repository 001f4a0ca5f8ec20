"""notebooks/04_multiclass.ipynb executed once per test session on its tiny 4-class example.

The notebook test asserts on that execution (it trained both runs and computed the atlas); the
browser test runs the same notebook in JupyterLab on the same DATA and RUNS folders, where the
notebook reuses the synthetic images, both finished runs and the current atlas instead of training
again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NAME = "04_multiclass.ipynb"
# the parameters cell's environment variables for the tiny example (160 images of 48 px, 2 epochs)
TINY = dict(CVD_MC_IMAGES=160, CVD_MC_SIZE=48, CVD_MC_EPOCHS=2, CVD_MC_STEPS=4)


@dataclass
class MulticlassNotebook:
    """The executed notebook ``nb`` (outputs and widget state) and the ``data`` and ``runs`` folders
    it wrote (``runs/a``, ``runs/b``, ``runs/a/atlas``)."""

    nb: nbformat.NotebookNode
    data: Path
    runs: Path


def execute_multiclass(root: Path) -> MulticlassNotebook:
    """Run the committed notebook top to bottom in a fresh kernel with ``$CVD_MC_*`` set to the tiny
    example under ``root`` (``root/data``, ``root/runs``)."""
    from tests.notebooks.test_study_notebooks import execute

    data, runs = root / "data", root / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CVD_MC_DATA", str(data))
        mp.setenv("CVD_MC_RUNS", str(runs))
        for key, value in TINY.items():
            mp.setenv(key, str(value))
        # the kernel imports this checkout's cvd_explorer, also where the installed one is another checkout's
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        nb = execute(NAME)
    return MulticlassNotebook(nb, data, runs)
