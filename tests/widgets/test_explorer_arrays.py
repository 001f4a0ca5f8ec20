"""The Explorer on a model and arrays: background worker, cache bounds, what a slider step costs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import cvd_explorer.explore.session as session_mod
from cvd_explorer.explore import count_text, filter_rows
from cvd_explorer.explore.samples import rows_from_arrays
from cvd_explorer.widgets import Explorer
from tests.widgets.helpers import random_images


def test_background_worker_fills_views_and_hides_busy(model32):
    ex = Explorer(model=model32, images=random_images(5), labels=[0, 1, 0, 1, 0])
    try:
        assert ex.wait(120)
        assert len(bytes(ex.cam_image.value)) > 0 and len(bytes(ex.strip_image.value)) > 0
        assert not ex.busy_indicator.active
        ex.sample = ex.samples[3]
        assert ex.wait(120)
        assert ex.explanation.row.key == ex.samples[3]
        before = bytes(ex.cam_image.value)
        ex.layer.value = ex.layer.options[2]  # served from the cache, on this thread
        assert bytes(ex.cam_image.value) != before
    finally:
        ex.close()


def test_slider_steps_never_run_the_model(model32, monkeypatch):
    ex = Explorer(model=model32, images=random_images(3), labels=[0, 1, 1], background=False)
    calls = []
    real = session_mod.Session.explain

    def counting(self, *args, **kwargs):
        calls.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(session_mod.Session, "explain", counting)
    for name in ex.layer.options:
        ex.layer.value = name
    ex.opacity.value = 0.7
    ex.top_k.value = 8
    assert calls == []


def test_cache_is_bounded(model32):
    ex = Explorer(model=model32, images=random_images(7), background=False, cache_size=3)
    for key in ex.samples:
        ex.sample = key
    assert len(ex.session.cache) == 3
    assert ex.session.cached(ex.session.row(ex.samples[-1]), "gradcam", "predicted", "conv") is not None
    assert ex.session.cached(ex.session.row(ex.samples[0]), "gradcam", "predicted", "conv") is None


def test_unknown_labels_and_paths(model32):
    ex = Explorer(model=model32, images=random_images(3), paths=["a/x.jpg", "b/y.jpg", "c/z.jpg"], background=False)
    assert ex.samples == ["a/x.jpg", "b/y.jpg", "c/z.jpg"]
    ex.sample = "y.jpg"
    assert ex.sample == "b/y.jpg"
    ex.filter.value = "misclassified"
    assert ex.samples == []


def test_filter_rows_is_pure_and_counts():
    rows = rows_from_arrays(np.array([0.9, 0.2, 0.6, 0.4]), ("cat", "dog"), ["dog", "dog", "cat", "cat"])
    wrong = filter_rows(rows, "misclassified", sort="confidence")
    assert [r.index for r in wrong] == [1, 2]  # 0.8 confident before 0.6
    assert [r.index for r in filter_rows(rows, "correct", label="cat")] == [3]
    assert [r.index for r in filter_rows(rows, sort="loss")][0] == 1
    assert count_text(312, 4000, "misclassified") == "312 misclassified of 4,000"
    assert len(rows) == 4


COMPUTATION_PACKAGES = ("explain", "render.py", "data", "models.py", "runs", "explore")


def test_computation_modules_do_not_import_widgets():
    """No computation module names ipywidgets or IPython in an import (TensorFlow itself loads
    IPython, so this is checked on the source), and importing them all loads no ipywidgets."""
    import ast
    from pathlib import Path

    import cvd_explorer

    root = Path(cvd_explorer.__file__).parent
    files = [
        p for name in COMPUTATION_PACKAGES
        for p in ([root / name] if name.endswith(".py") else (root / name).rglob("*.py"))
    ]
    assert len(files) > 10
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("ipywidgets", "IPython")]
    assert offenders == []
    code = (
        "import sys\n"
        "import cvd_explorer.explain, cvd_explorer.render, cvd_explorer.data, cvd_explorer.models\n"
        "import cvd_explorer.runs.run, cvd_explorer.runs.train, cvd_explorer.explore, cvd_explorer.explore.views\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'ipywidgets')\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
