"""The training loop: fit, commit each epoch crash-safely, resume, stop gracefully, evaluate.

Commit order at the end of epoch ``e`` (each step an atomic write), which makes ``last/state.json``
the single commit point:

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
from pathlib import Path
from typing import Any

from cvd_explorer.config import TrainConfig
from cvd_explorer.runs import files
from cvd_explorer.runs.io import append_text, now_iso, read_json, sha256_file, write_csv, write_json, write_with
from cvd_explorer.runs.run import Run
from cvd_explorer.runs.status import StatusWriter, StopRequested, StopSignal


def train(
    config: TrainConfig | None,
    data: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool = True,
    manifest_path: str | os.PathLike[str] | None = None,
    strategy: Any = None,
) -> Run:
    """Train a binary classifier into the run directory ``out``.

    Args:
        config: what to train; None with ``resume=True`` takes the run's own config. On resume a
            config may differ from the recorded one only in ``epochs`` (to train longer).
        data: the data folder (Kaggle, PetImages or one folder per class); on resume, None uses
            the recorded folder.
        out: run directory to create (new or empty folder), or to resume.
        resume: continue the run in ``out`` from its last completed epoch (starts it if absent).
        progress: print progress on stderr (a bar on a terminal, a line per epoch otherwise).
        manifest_path: the split manifest to use or create (default ``DATA/manifest.csv``).
        strategy: a ``tf.distribute.Strategy`` to train under (default: chosen by
            :func:`cvd_explorer.runs.distribute.choose_strategy`).

    Returns:
        The :class:`Run`; its status is "finished", or "stopped" after a graceful stop.

    Raises:
        RunError, DataError: unusable arguments (nothing is overwritten). Exceptions during
            training propagate after status "failed" and the traceback in ``log.txt``.
    """
    from cvd_explorer.runs.callbacks import Progress
    from cvd_explorer.runs.distribute import choose_strategy, describe, devices_label
    from cvd_explorer.runs.setup import prepare

    out = Path(out).expanduser().absolute()
    strategy = choose_strategy(strategy)
    batch = (config.batch_size if config is not None else _recorded_batch(out))
    dist = describe(strategy, batch)
    if not dist.is_chief:  # other workers write a throw-away copy
        out = Path(tempfile.mkdtemp(prefix=f"cvd-worker{dist.worker}-"))
    setup = prepare(
        config, data, out, resume=resume, manifest_path=manifest_path,
        distribution=dist.to_json(), device=devices_label(strategy),
    )
    show = Progress(progress)
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
            from cvd_explorer.runs.loop import fit_epochs, test_epoch

            fit_epochs(setup, strategy, dist.global_batch, stop, status, show)
            status.update(force=True, phase="test", step=0, eta_seconds=None)
            summary = test_epoch(setup, stop, status)
            state = dict(read_json(out / files.LAST_DIR / files.LAST_STATE), evaluated=cfg.epochs, updated=now_iso())
            write_json(out / files.LAST_DIR / files.LAST_STATE, state)
            status.close(state="finished", phase="done", epoch=cfg.epochs, eta_seconds=0)
            text = (f"finished: test accuracy {summary['test_accuracy']:.4f}, test loss {summary['test_loss']:.4f}, "
                    f"max val accuracy {summary['max_val_accuracy']:.4f}")
            log(out, text)
            show.line(text)
        except StopRequested as exc:
            done = _completed(out)
            status.close(state="stopped", phase="stopped", epoch=done, eta_seconds=None)
            text = f"stopped ({exc}) after epoch {done}; continue with `cvd-explorer train --out {out} --resume`"
            log(out, text)
            show.line(text)
        except BaseException as exc:
            log(out, f"failed: {exc.__class__.__name__}: {exc}\n{traceback.format_exc()}")
            status.close(state="failed", phase="failed", error=f"{exc.__class__.__name__}: {exc}")
            raise
    return Run(out)


def log(out: Path, text: str) -> None:
    """Append a time-stamped line (or block) to the run's ``log.txt``."""
    append_text(out / files.LOG, f"{now_iso()} {text.rstrip()}\n")


def _recorded_batch(out: Path) -> int:
    try:
        return int(read_json(out / files.CONFIG)["config"]["batch_size"])
    except (OSError, ValueError, KeyError):
        return TrainConfig().batch_size


def _completed(out: Path) -> int:
    path = out / files.LAST_DIR / files.LAST_STATE
    return int(read_json(path)["epoch"]) if path.is_file() else 0


def _finish_status(out: Path, setup) -> None:
    """A finished run killed before its last status write: mark it finished."""
    status_path = out / files.STATUS
    status = read_json(status_path) if status_path.is_file() else {}
    if status.get("state") != "finished":
        StatusWriter(out, epoch=setup.completed, epochs=setup.config.epochs,
                     steps_per_epoch=setup.config.steps_per_epoch).close(state="finished", phase="done", eta_seconds=0)


def save_history(out: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically write ``history.csv``."""
    write_csv(out / files.HISTORY, files.HISTORY_COLUMNS, ([row[c] for c in files.HISTORY_COLUMNS] for row in rows))


def export_best(out: Path, model, epoch: int, val_accuracy: float) -> None:
    """Write ``model.keras`` (weights, no optimizer) and ``model.json`` with its sha256."""
    write_with(out / files.MODEL, lambda tmp: model.save(tmp, include_optimizer=False))
    write_json(
        out / files.MODEL_INFO,
        {"sha256": sha256_file(out / files.MODEL), "epoch": epoch, "val_accuracy": val_accuracy},
    )
