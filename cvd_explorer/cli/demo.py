"""`cvd-explorer demo`: synthetic data, a small ResNet trained on it, the Explorer in JupyterLab."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cvd_explorer.config import TrainConfig

NAME = "demo"
HELP = "generate synthetic data, train a small ResNet on it and open the Explorer in JupyterLab"
ORDER = 1
USES_TENSORFLOW = True
DESCRIPTION = """\
The whole tool in one command, on a laptop CPU:

  1. write 2,000 synthetic cartoon cats and dogs (128 px) to --data (reused when there), 4% of
     them drawn as the other class than their name says and 40 of them copied again (the truth
     in DATA/synth-truth.json), so the atlas has label errors and duplicates to find;
  2. train resnet-mini on them into --run with a progress bar (a few minutes on 2 cores;
     reused when finished, resumed when interrupted);
  3. compute the atlas of the test split (RUN/atlas/test-gradcam/: every test image's maps
     across depth, suspected label errors, the embedding; reused when current);
  4. start JupyterLab on a working copy of notebooks/00_demo.ipynb next to the run
     (demo-runs/00_demo.ipynb, ignored by git), which opens the Explorer on that run:
     filter to the misclassified images, slide through the layers, compare CAM methods.
     A copy you edited is kept as it is; delete it to get a fresh one.

example:
  cvd-explorer demo                   # then open the URL JupyterLab prints
  cvd-explorer demo --no-lab          # data and run only
"""

NOTEBOOK = "00_demo.ipynb"
RUN_ENV = "CVD_DEMO_RUN"
# The demo trains cvd_explorer.data.synthetic.DEMO_TRAIN with the learning rate warmed up over the
# first epoch and decayed along a cosine to 0: with a constant 0.05 the validation loss jumped
# (2.8 at epoch 10, 1.56 at epoch 19), so which epoch came out best, and its accuracy, was luck.
DEMO_LR_SCHEDULE = "warmup-cosine"
SHORTCUT_RUN_ENV = "CVD_DEMO_SHORTCUT_RUN"
SHORTCUT_DATA: dict[str, Any] = {"n": 1200, "size": 64, "seed": 0, "shortcut": "square",
                                 "shortcut_place": "bottom-right"}
"""The notebook's "Find the shortcut" run: options of :func:`cvd_explorer.data.synthetic.generate`."""
SHORTCUT_TRAIN: dict[str, Any] = {"epochs": 20, "steps_per_epoch": 52, "image_size": 64}
"""... and what its training changes in :func:`demo_config` (120 to 145 s of training measured on 2 shared cores)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``demo``."""
    parser.add_argument("--data", default="demo-data", help="synthetic data folder (default ./demo-data)")
    parser.add_argument("--run", default=os.path.join("demo-runs", "resnet-mini"),
                        help="run directory (default ./demo-runs/resnet-mini)")
    parser.add_argument("--port", type=int, default=None, help="JupyterLab port (default: JupyterLab's choice)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--no-lab", action="store_true", help="stop after training (no JupyterLab)")


def demo_data() -> dict[str, Any]:
    """Options of :func:`cvd_explorer.data.synthetic.generate` for the demo's data: ``DEMO_DATA`` with the
    planted label errors and copies of ``DEMO_PLANTED`` (for the atlas to find)."""
    from cvd_explorer.data.synthetic import DEMO_DATA, DEMO_PLANTED

    return {**DEMO_DATA, **DEMO_PLANTED}


def demo_config() -> TrainConfig:
    """The demo's :class:`~cvd_explorer.config.TrainConfig`: ``DEMO_TRAIN`` with ``DEMO_LR_SCHEDULE``."""
    from cvd_explorer.data.synthetic import DEMO_TRAIN

    return TrainConfig(**{**DEMO_TRAIN, "lr_schedule": DEMO_LR_SCHEDULE})


def shortcut_config() -> TrainConfig:
    """The shortcut run's :class:`~cvd_explorer.config.TrainConfig`: :func:`demo_config` with ``SHORTCUT_TRAIN``."""
    import dataclasses

    return dataclasses.replace(demo_config(), **SHORTCUT_TRAIN)


def shortcut_run(run_dir: str | os.PathLike[str], data: str | os.PathLike[str] | None = None,
                 progress: bool = True, *, cue: str = "square", place: str = "bottom-right") -> Path:
    """The finished planted-shortcut run at ``run_dir``: reused when finished, else its data written
    (``SHORTCUT_DATA``) and the run trained or resumed (``shortcut_config()``); returns its absolute path.

    Args:
        data: the data folder (default: ``<run_dir>-data`` beside the run; reused when there).
        progress: print progress on stdout (a notebook shows stderr in red).
        cue, place: the mark and its corner (``cvd_explorer.data.synthetic.shortcut.CUE_KINDS`` and
            ``PLACES``) when the data is written.

    Raises:
        RunError: the training did not finish (interrupted: call again to resume).
    """
    import contextlib

    from cvd_explorer.data.synthetic import generate
    from cvd_explorer.errors import RunError
    from cvd_explorer.runs import Run, train

    run_dir = Path(run_dir).absolute()
    if run_dir.is_dir() and Run(run_dir).state == "finished":
        return run_dir
    data = Path(data).absolute() if data is not None else run_dir.with_name(run_dir.name + "-data")
    start = time.monotonic()
    generate(data, **{**SHORTCUT_DATA, "shortcut": cue, "shortcut_place": place})
    if progress:
        print(f"data: {data}; training {run_dir} (about 3 minutes on 2 cores, once)", flush=True)
    with contextlib.redirect_stderr(sys.stdout) if progress else contextlib.nullcontext():
        result = train(shortcut_config(), data, run_dir, resume=run_dir.exists(), progress=progress)
    if result.state != "finished":
        raise RunError(f"the shortcut run {run_dir} is {result.state}: call shortcut_run again to resume it")
    if progress:
        print(f"trained in {time.monotonic() - start:.0f} s", flush=True)
    return run_dir


def run(args: argparse.Namespace) -> int:
    """Prepare data and run, then start JupyterLab (unless ``--no-lab``); returns the exit status."""
    from cvd_explorer.data.synthetic import generate
    from cvd_explorer.runs.train import train

    data, run_dir = Path(args.data).absolute(), Path(args.run).absolute()
    start = time.monotonic()
    info = generate(data, progress=_progress, **demo_data())
    if not info.reused:
        print(file=sys.stderr)
    print(f"data: {data} ({'reused' if info.reused else f'written in {time.monotonic() - start:.0f} s'})")

    config = demo_config()
    print(f"run: {run_dir} ({config.arch}, {config.image_size} px, {config.epochs} epochs x "
          f"{config.steps_per_epoch} steps)")
    result = train(config, data, run_dir, resume=run_dir.exists(), progress=True)
    if result.state != "finished":
        print(f"the run is {result.state}; run the demo again to continue it", file=sys.stderr)
        return 1
    rows = result.predictions or []
    wrong = sum(not r["correct"] for r in rows)
    print(f"test accuracy {1 - wrong / max(len(rows), 1):.3f}: {wrong} misclassified of {len(rows)}")
    atlas_summary(run_dir)

    notebook = working_notebook(run_dir)
    if args.no_lab:
        print(f"notebook: {notebook}\nopen it with: {RUN_ENV}={run_dir} jupyter lab {notebook}")
        return 0
    return start_lab(notebook, run_dir, args.port, args.no_browser)


def atlas_summary(run_dir: Path) -> None:
    """Compute (or reuse) the run's test atlas and print what it found."""
    from cvd_explorer.atlas import compute_atlas

    start = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"\ratlas: {done}/{total} test images", end="", file=sys.stderr, flush=True)

    atlas = compute_atlas(run_dir, progress=progress)
    s = atlas.summary
    print(file=sys.stderr)
    print(f"atlas: {atlas.folder} ({s['images']} images, {len(s['layers'])} conv layers, "
          f"{time.monotonic() - start:.0f} s): {len(s['suspected_label_errors'])} suspected label errors, "
          f"{s['leakage']['test_images_with_copy_elsewhere']} test images with a copy in another split")


def working_notebook_path(run_dir: Path) -> Path:
    """Where the demo's working notebook lives: next to the run (``demo-runs/00_demo.ipynb`` by default).

    JupyterLab saves outputs into the notebook it runs; the working copy keeps them out of the
    tracked ``notebooks/00_demo.ipynb`` (``demo-runs/`` is ignored by git).
    """
    return Path(run_dir).absolute().parent / NOTEBOOK


def working_notebook(run_dir: Path) -> Path:
    """Write or keep the working copy of the demo notebook for ``run_dir``; returns its path.

    * missing: written from :func:`demo_notebook` (what the tracked notebook holds), with the
      run's path relative to the copy as the default of ``RUN``;
    * its cells' sources are the current ones: kept, outputs of an earlier Run All included;
    * not edited since it was written (its sources are those of the older version it records
      in ``metadata.cvd_explorer``) but the demo's notebook changed since: renamed to
      ``00_demo.ipynb.~N~`` and written anew;
    * edited by you: kept as it is (delete or rename it to get the current version).
    """
    target = working_notebook_path(run_dir)
    relative = os.path.relpath(Path(run_dir).absolute(), target.parent)
    fresh = demo_notebook(relative)
    fresh["metadata"]["cvd_explorer"] = {"template_sha256": _sources_sha256(fresh)}
    if target.exists():
        try:
            current = json.loads(target.read_text(encoding="utf-8"))
            recorded = current["metadata"]["cvd_explorer"]["template_sha256"]
            sources = _sources_sha256(current)
        except (OSError, ValueError, KeyError, TypeError):
            recorded = sources = None
        if sources == _sources_sha256(fresh):
            return target
        if sources is None or sources != recorded:
            print(f"notebook: keeping your edited {target} (delete it to get the demo's current notebook)")
            return target
        backup = _free_backup_name(target)
        os.replace(target, backup)
        print(f"notebook: the demo's notebook changed; your earlier copy is now {backup}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(fresh, indent=1) + "\n", encoding="utf-8")
    return target


def _sources_sha256(notebook: dict[str, Any]) -> str:
    """Hash of the cells' types and sources (outputs, execution counts and metadata left out)."""
    cells = [[c.get("cell_type"), "".join(c.get("source", ""))] for c in notebook.get("cells", [])]
    return hashlib.sha256(json.dumps(cells).encode("utf-8")).hexdigest()


def _free_backup_name(path: Path) -> Path:
    n = 1
    while path.with_name(f"{path.name}.~{n}~").exists():
        n += 1
    return path.with_name(f"{path.name}.~{n}~")


def lab_command(notebook: Path, port: int | None, no_browser: bool) -> tuple[list[str], Path]:
    """The ``jupyter lab`` command opening ``notebook`` and its root folder (the notebook's own).

    JupyterLab serves only that folder, so nothing tracked by git is open for saving there.
    """
    root = notebook.parent
    cmd = [sys.executable, "-m", "jupyterlab", notebook.name, f"--ServerApp.root_dir={root}"]
    if port is not None:
        cmd.append(f"--port={port}")
    if no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers often run as root
        cmd.append("--allow-root")
    return cmd, root


def start_lab(notebook: Path, run_dir: Path, port: int | None, no_browser: bool) -> int:
    """Run ``jupyter lab`` on ``notebook`` with the run passed in ``$CVD_DEMO_RUN``; returns its status."""
    if shutil.which("jupyter") is None and not _has_module("jupyterlab"):
        print("JupyterLab is not installed: pip install jupyterlab", file=sys.stderr)
        return 2
    cmd, root = lab_command(notebook, port, no_browser)
    env = dict(os.environ, **{RUN_ENV: str(run_dir)})
    print("starting JupyterLab (Ctrl+C twice to stop): " + " ".join(cmd[2:]), flush=True)
    try:
        return subprocess.call(cmd, env=env, cwd=root)
    except KeyboardInterrupt:
        return 0


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _progress(done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        print(f"\rsynthetic images: {done}/{total}", end="", file=sys.stderr, flush=True)


def demo_notebook(run: str = "../demo-runs/resnet-mini") -> dict[str, Any]:
    """The demo notebook as nbformat 4 JSON: kernelspec, a parameter cell, the Explorer, no outputs.

    Args:
        run: default of ``RUN`` when ``$CVD_DEMO_RUN`` is unset, relative to the notebook's folder
            (the tracked ``notebooks/00_demo.ipynb`` holds the default).
            The "Find the shortcut" section's ``SHORTCUT_RUN`` defaults to ``shortcut`` beside it.
    """
    import posixpath

    shortcut = posixpath.join(posixpath.dirname(run), "shortcut")

    ids = iter(f"demo-{i}" for i in range(100))

    def md(text: str) -> dict[str, Any]:
        return {"cell_type": "markdown", "id": next(ids), "metadata": {},
                "source": text.strip("\n").splitlines(keepends=True)}

    def code(text: str, tags: list[str] | None = None) -> dict[str, Any]:
        meta = {"tags": tags} if tags else {}
        return {"cell_type": "code", "execution_count": None, "id": next(ids), "metadata": meta, "outputs": [],
                "source": text.strip("\n").splitlines(keepends=True)}

    cells = [
        md("""
# Where does the CNN look? The demo

`cvd-explorer demo` generated cartoon cats and dogs, trained a small ResNet (`resnet-mini`, the
bottleneck blocks and layer names of ResNet50) on them and opened this notebook. Run all cells
(**Run → Run All Cells**).
"""),
        code(f"""
import os

# The run to explore; `cvd-explorer demo` passes its run in ${RUN_ENV}.
RUN = os.environ.get("{RUN_ENV}", {json.dumps(run)})
""", tags=["parameters"]),
        md("""
## What to look at

1. **Misclassified first.** Click *misclassified*: the count says how many of the test images the
   model gets wrong. Most of them are the synthetic *hard cases*: a person next to the animal, a
   cat and a dog together, a box hiding part of the animal. Sort by *confidence* to see the most
   confident mistakes first.
2. **Slide through depth.** Drag the layer slider (or focus it and press ←/→). Early layers
   respond to edges and colour everywhere; deep layers concentrate on the animal, and on wrong
   predictions they wander off it (the person, the box, the other animal).
3. **The depth strip** under the views shows the CAM at evenly spaced layers at once: the
   reference study's figure.
4. Switch to **block outputs** for one map per residual block, change the **method**
   (Grad-CAM++, Score-CAM, Eigen-CAM, ...) or the **target** (why *cat*? why *dog*?).
5. **Export** writes the current view as a PNG and its arrays as `.npz`.
"""),
        code("""
from cvd_explorer import Explorer

explorer = Explorer(RUN)
explorer
"""),
        md("""
The same panel opens any run trained with `cvd-explorer train`, or a model and arrays:
`Explorer(model=model, images=images, labels=labels)`.

## Every test image at once: the Atlas

The demo planted label errors (4% of the images show the other animal than their file name says)
and copies. The Atlas maps every test image by what the model sees (a seeded UMAP of its pooled
features: a picture, not a metric), mistakes marked:

1. **Box-select a cluster of mistakes** (the box button, then drag): the Explorer above shows
   exactly those images (its filters still apply); *clear selection* shows all again.
2. **Click a point** to open that image with its layer slider and CAM.
3. **Triage**: *suspected label error* (cleanlab, on the out-of-sample test predictions) and
   *has a copy in another split* filter the gallery; mark each image *label wrong*, *model wrong*
   or *not a cat or dog*. Export the verdicts and `cvd-explorer split DATA --exclude verdicts.csv`
   writes a cleaned manifest for the next training.
4. **Depth curves**: agreement with the deepest layer and mass inside the animal's mask, per layer,
   for correct and misclassified images with 95% intervals: the study's "maps wander off the
   animal on wrong predictions", measured on the whole split.
"""),
        code("""
from cvd_explorer import Atlas

atlas = Atlas(RUN, explorer=explorer)  # linked to the Explorer above
atlas
"""),
        md("""
## Find the shortcut (a second small run)

A *shortcut* (a "Clever Hans" cue): in this data a small magenta square sits in the bottom-right
corner of half of the cats in every split, and on no dog, except in the test split, where a third of
the dogs carry it too. Training and validation reward a model that learned "square means cat"; in
test it calls the marked dogs cats. The atlas's **slices** find such groups without being told:
clusters of the test images' pooled features whose error rate is well above the overall one (Wilson
interval; one-sided binomial test, Benjamini–Hochberg q-value), best first.

**Cost**: about 3 minutes on 2 cores, once: 1,200 images of 64 px are written and a second small run is
trained into `demo-runs/shortcut` (2 to 2.5 minutes; reused when finished, like the demo's), then its atlas
(half a minute). `cvd-explorer demo` does not do it, and *Run All* skips it so the panels above stay
responsive: set `FIND_THE_SHORTCUT = True` below and run the two cells.
"""),
        code(f"""
from cvd_explorer.atlas import compute_atlas
from cvd_explorer.cli.demo import SHORTCUT_RUN_ENV, shortcut_run

FIND_THE_SHORTCUT = False  # True: train (once) and compute; ${SHORTCUT_RUN_ENV} names a finished run
SHORTCUT_RUN = os.environ.get(SHORTCUT_RUN_ENV, {json.dumps(shortcut)})

shortcut = None
if FIND_THE_SHORTCUT or SHORTCUT_RUN_ENV in os.environ:
    shortcut = compute_atlas(shortcut_run(SHORTCUT_RUN))
    for i, s in enumerate(shortcut.slices[:3]):
        lo, hi = s["interval"]
        print(f"slice {{i}}: {{s['size']}} images, error rate {{s['error_rate']:.2f}} [{{lo:.2f}}, {{hi:.2f}}] "
              f"(overall {{s['overall_error_rate']:.2f}}), q = {{s['q_value']:.1g}}, true classes {{s['classes']}}")
else:
    print("skipped: set FIND_THE_SHORTCUT = True and run this cell again")
"""),
        md("""
The first slice should be mostly dogs that the model calls cats. The Explorer below shows only its
images: click one and slide the layer slider down from the deepest layer (whose maps are only 2×2 cells at
64 px) to the `conv4` and `conv3` blocks. Grad-CAM for the predicted class (*cat*) sits on the square in the
corner, not on the dog: the model learned the mark. *More like this*
on one of them fills the gallery with its nearest images: marked ones. `shortcut.slices` holds every
slice with its images' paths, and `shortcut.slice_maps(0)` the first slice's mean Grad-CAM next to that of
the correctly classified images of its class.
"""),
        code("""
from cvd_explorer.runs import Run

if shortcut is not None:
    root = Run(SHORTCUT_RUN).data_root
    hans = Explorer(SHORTCUT_RUN)
    hans.restrict([str(root / p) for p in shortcut.slices[0]["paths"]])  # the first slice's images
    display(hans)
"""),
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
