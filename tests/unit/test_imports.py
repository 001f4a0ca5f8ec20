"""Computation code never imports widgets or IPython; importing the package stays cheap."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

COMPUTATION_MODULES = [
    "cvd_explorer.data",
    "cvd_explorer.data.pipeline",
    "cvd_explorer.data.synthetic",
    "cvd_explorer.models",
    "cvd_explorer.config",
    "cvd_explorer.runs",
    "cvd_explorer.explain",
    "cvd_explorer.explain.metrics",
    "cvd_explorer.render",
    "cvd_explorer.cli",
]


def _loaded_after_import(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_computation_modules_do_not_import_widgets():
    # (Keras itself imports parts of IPython when it is installed, so IPython is checked in the
    # sources below, not in sys.modules.)
    loaded = _loaded_after_import("; ".join(f"import {module}" for module in COMPUTATION_MODULES))
    assert set(COMPUTATION_MODULES) <= loaded
    assert not {"ipywidgets", "cvd_explorer.widgets"} & loaded


def test_computation_sources_never_name_widgets_or_ipython():
    package = Path(__file__).resolve().parents[2] / "cvd_explorer"
    offenders = []
    for path in package.rglob("*.py"):
        if "widgets" in path.relative_to(package).parts:
            continue
        text = path.read_text()
        if re.search(r"^\s*(import|from)\s+(ipywidgets|IPython)", text, re.MULTILINE):
            offenders.append(str(path.relative_to(package)))
    assert offenders == []


def test_top_level_import_is_lazy():
    loaded = _loaded_after_import("import cvd_explorer")
    assert "tensorflow" not in loaded and "ipywidgets" not in loaded


def test_statistics_import_scipy_only_when_computing():
    # scipy.stats takes seconds to import: `cvd-explorer --help` and importing the statistics stay without it
    loaded = _loaded_after_import(
        "import cvd_explorer.stats, cvd_explorer.explore.compare, cvd_explorer.report; "
        "from cvd_explorer.cli import build_parser; build_parser()"
    )
    assert "cvd_explorer.stats" in loaded and "scipy" not in loaded


def test_method_registry_and_cli_help_load_without_tensorflow():
    code = (
        "import contextlib, io, json, sys\n"
        "import cvd_explorer.explain as e, cvd_explorer.explain.registry as r\n"
        "assert e.METHODS == r.METHODS and e.method_spec(r.DEFAULT_METHOD).name == r.DEFAULT_METHOD\n"
        "from cvd_explorer.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['cam', '--help'])\n"
        "assert all(name in out.getvalue() for name in r.METHODS), out.getvalue()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(run.stdout.strip().splitlines()[-1]))
    assert "cvd_explorer.explain.registry" in loaded and "cvd_explorer.cli.cam" in loaded
    assert not {"tensorflow", "keras", "cvd_explorer.explain.cam", "cvd_explorer.explain.engine"} & loaded
