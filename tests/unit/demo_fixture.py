"""A run trained like the demo: the demo's data (planted label errors and copies) and config.

Trained through the product's own training (:func:`cvd_explorer.runs.train`), once, and cached in
``$CVD_EXPLORER_TEST_CACHE`` or ``~/.cache/cvd-explorer/test-fixtures`` under a key of the sources
it depends on (generator, models, training loop, config), so CI trains it once per run and a
developer once per change of those. Tests must not write into it: copy it first (:func:`copy_run`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    """The test-fixture cache folder."""
    return Path(os.environ.get("CVD_EXPLORER_TEST_CACHE") or Path.home() / ".cache" / "cvd-explorer" / "test-fixtures")


def _key() -> str:
    import keras

    import cvd_explorer.config as config
    import cvd_explorer.data.pipeline as pipeline
    import cvd_explorer.data.synthetic as synthetic
    import cvd_explorer.models as models
    import cvd_explorer.runs.loop as loop
    from cvd_explorer.cli.demo import demo_config, demo_data

    h = hashlib.sha256()
    for module in (synthetic, models, loop, config, pipeline):
        h.update((synthetic.source_text() if module is synthetic else inspect.getsource(module)).encode())
    h.update(json.dumps([demo_data(), demo_config().to_dict(), keras.__version__], sort_keys=True).encode())
    return h.hexdigest()[:16]


def demo_like_run() -> Path:
    """The finished run folder (its data folder is beside it, with ``synth-truth.json``)."""
    from cvd_explorer.cli.demo import demo_config, demo_data
    from cvd_explorer.data.synthetic import generate
    from cvd_explorer.runs import Run, train

    base = cache_root() / f"demo-run-{_key()}"
    run_dir, data = base / "run", base / "data"
    if run_dir.is_dir() and Run(run_dir).state == "finished":
        return run_dir
    generate(data, **demo_data())
    result = train(demo_config(), data, run_dir, resume=run_dir.exists(), progress=False)
    assert result.state == "finished", result.state
    return run_dir


def truth(run_dir: Path) -> dict[str, Any]:
    """The generator's ``synth-truth.json`` of the run's data."""
    from cvd_explorer.runs import Run

    return json.loads((Path(Run(run_dir).data_root) / "synth-truth.json").read_text())


def copy_run(run_dir: Path, dest: Path) -> Path:
    """A writable copy of the run folder (its data stays where it is); no atlas copied."""
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("atlas"))
    return dest
