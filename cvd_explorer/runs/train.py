"""The training loop: fit, commit each epoch crash-safely, resume, stop gracefully, evaluate.

Commit order at the end of epoch ``e`` (each step an atomic write), which makes ``last/state.json``
the single commit point:

0. ``probes/epoch-<eeee>.npz``: the probe CAMs of epoch e (runs with probes; removed on resume
   when the epoch was not committed);
1. ``last/epoch-<e>.keras``: model + optimizer state of epoch e;
2. ``history.csv`` with the rows of epochs 1..e;
3. ``last/state.json`` ``{"epoch": e, "best": ...}``  <- the epoch is committed here;
4. ``last/epoch-<e>.keras`` renamed to ``last/last.keras``;
5. ``model.keras`` + ``model.json`` if epoch e is the best so far; TensorBoard, status, log.

A process killed anywhere resumes from ``state.json``: rows past its epoch are dropped from the
history, a pending rename (4) or best-model export (5) is completed, and TensorBoard logs are
rewritten from the history, so every epoch appears exactly once.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from cvd_explorer.config import TrainConfig
from cvd_explorer.runs import files
from cvd_explorer.runs.folder import (
    completed_epochs,
    log,
    read_last_state,
    read_status,
    recorded_config,
    write_last_state,
)
from cvd_explorer.runs.run import Run
from cvd_explorer.runs.setup import RunRequest, RunSetup
from cvd_explorer.runs.status import StatusWriter, StopRequested, StopSignal

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11


class TrainOptions(TypedDict, total=False):
    """The keyword options of :func:`train`, each optional (their meaning and defaults: its docstring)."""

    resume: bool
    progress: bool
    manifest_path: str | os.PathLike[str] | None
    strategy: Any
    probes: int | None
    probe_images: Sequence[str | os.PathLike[str]] | None


def train(
    config: TrainConfig | None,
    data: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    **options: Unpack[TrainOptions],
) -> Run:
    """Train a classifier (two classes or K > 2, as the manifest says) into the run directory ``out``.

    Args:
        config: what to train; None with ``resume=True`` takes the run's own config. On resume a
            config may differ from the recorded one only in ``epochs`` (to train longer).
        data: the data folder (Kaggle, PetImages or one folder per class); on resume, None uses
            the recorded folder.
        out: run directory to create (new or empty folder), or to resume.

    Keyword options (:class:`TrainOptions`; type-checked, an unknown name raises TypeError):
        resume: continue the run in ``out`` from its last completed epoch (starts it if absent).
        progress: print progress on stderr (a bar on a terminal, a line per epoch otherwise).
        manifest_path: the split manifest to use or create (default ``DATA/manifest.csv``).
        strategy: a ``tf.distribute.Strategy`` to train under (default: chosen by
            :func:`cvd_explorer.runs.distribute.choose_strategy`).
        probes: a new run's number of probe images (None: 8; 0: none): fixed test images, half
            of each class, whose Grad-CAM at every block output is saved after every epoch in
            ``RUN/probes/`` (:mod:`cvd_explorer.runs.probes`). On resume None (the run's own
            setting; a run from before probes resumes without them) or the recorded number.
        probe_images: the probe images themselves (paths relative to the data folder as in its
            manifest, or absolute under it), instead of choosing ``probes`` of them.

    Returns:
        The :class:`Run`; its status is "finished", or "stopped" after a graceful stop.

    Raises:
        RunError, DataError: unusable arguments (nothing is overwritten). Exceptions during
            training propagate after status "failed" and the traceback in ``log.txt``.
    """
    from cvd_explorer.runs.callbacks import Progress  # Keras: imported when training
    from cvd_explorer.runs.distribute import choose_strategy, describe, devices_label
    from cvd_explorer.runs.loop import fit_epochs, test_epoch
    from cvd_explorer.runs.setup import prepare

    unknown = sorted(set(options) - TrainOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"train() got unexpected keyword argument(s) {', '.join(unknown)}")
    request = RunRequest(resume=options.get("resume", False), manifest_path=options.get("manifest_path"),
                         probes=options.get("probes"), probe_images=options.get("probe_images"))
    out = Path(out).expanduser().absolute()
    strategy = choose_strategy(options.get("strategy"))
    batch = (config or recorded_config(out) or TrainConfig()).batch_size
    dist = describe(strategy, batch)
    if not dist.is_chief:  # other workers write a throw-away copy
        out = Path(tempfile.mkdtemp(prefix=f"cvd-worker{dist.worker}-"))
    setup = prepare(config, data, out, request, distribution=dist.to_json(), device=devices_label(strategy))
    show = Progress(options.get("progress", True))
    if setup.finished:
        _finish_status(out, setup)
        show.line(f"{out} is already finished ({setup.completed} epochs); nothing to do")
        return Run(out)
    (out / files.STOP).unlink(missing_ok=True)
    (out / files.LAST_DIR).mkdir(exist_ok=True)
    cfg = setup.config
    status = StatusWriter(
        out, epoch=setup.completed, epochs=cfg.epochs, steps_per_epoch=cfg.steps_per_epoch,
    )
    verb = f"resuming after epoch {setup.completed}" if setup.resumed else "starting"
    log(out, f"{verb}: {cfg.arch} {cfg.image_size}px, {cfg.epochs} epochs x {cfg.steps_per_epoch} steps, "
        f"global batch {dist.global_batch} on {setup.meta['device']} ({dist.strategy}, {dist.replicas} replicas), "
        f"data {setup.data_root}")
    with StopSignal(out) as stop:
        try:
            fit_epochs(setup, strategy, dist.global_batch, stop, status, show)
            status.update(force=True, phase="test", step=0, eta_seconds=None)
            summary = test_epoch(setup, stop, status)
            write_last_state(out, {**(read_last_state(out) or {}), "evaluated": cfg.epochs})
            status.close(state="finished", phase="done", epoch=cfg.epochs, eta_seconds=0)
            text = (f"finished: test accuracy {summary['test_accuracy']:.4f}, test loss {summary['test_loss']:.4f}, "
                    f"max val accuracy {summary['max_val_accuracy']:.4f}")
            log(out, text)
            show.line(text)
        except StopRequested as exc:
            done = completed_epochs(read_last_state(out))
            status.close(state="stopped", phase="stopped", epoch=done, eta_seconds=None)
            text = f"stopped ({exc}) after epoch {done}; continue with `cvd-explorer train --out {out} --resume`"
            log(out, text)
            show.line(text)
        except BaseException as exc:
            log(out, f"failed: {exc.__class__.__name__}: {exc}\n{traceback.format_exc()}")
            status.close(state="failed", phase="failed", error=f"{exc.__class__.__name__}: {exc}")
            raise
    return Run(out)


def _finish_status(out: Path, setup: RunSetup) -> None:
    """A finished run killed before its last status write: mark it finished."""
    status = read_status(out) or {}
    if status.get("state") != "finished":
        StatusWriter(out, epoch=setup.completed, epochs=setup.config.epochs,
                     steps_per_epoch=setup.config.steps_per_epoch).close(state="finished", phase="done", eta_seconds=0)
