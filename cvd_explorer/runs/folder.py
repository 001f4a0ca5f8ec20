"""Typed readers and writers of a run directory's training files (the contract: docs/run-directory.md).

Here: reading ``config.json``, ``status.json``, ``model.json``, ``summary.json`` and ``last/state.json``;
reading and writing ``history.csv`` and ``predictions.csv``; writing ``model.keras`` with ``model.json``,
``summary.json``, ``last/state.json``, the log and the ``STOP`` request. The other files of a run have
their own module: ``config.json`` and ``manifest.csv`` are written by :mod:`cvd_explorer.runs.setup`,
``status.json`` by :mod:`cvd_explorer.runs.status` (and :mod:`cvd_explorer.runs.launch` for a launch
that died), the probes by :mod:`cvd_explorer.runs.probes`, the atlas by :mod:`cvd_explorer.atlas.store`.
File names are in :mod:`cvd_explorer.runs.files`; every one of these modules reads and writes through
:mod:`cvd_explorer.fileio` (atomic writes, one error for a damaged file).

One rule for missing numbers: a history cell that is empty, ``nan`` or not a number reads as
``float("nan")``, and a missing or NaN number is written as an empty cell.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import CvdError, RunError
from cvd_explorer.fileio import (
    append_text,
    load_json,
    now_iso,
    read_csv,
    sha256_file,
    write_csv,
    write_json,
    write_with,
)
from cvd_explorer.runs import files

# One row of history.csv: the keys of files.HISTORY_COLUMNS; "epoch" an int counted from 1, the
# other values floats (NaN where missing).
HistoryRow = dict[str, float]
# One row of predictions.csv as :meth:`Run.predictions` gives it.
Prediction = dict[str, Any]

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------- numbers
def parse_float(text: object) -> float:
    """A CSV/JSON cell as a float: NaN when empty, None or not a number."""
    if text is None or text == "":
        return math.nan
    try:
        return float(text)  # type: ignore[arg-type]  # anything float() takes; the rest is NaN
    except (TypeError, ValueError):
        return math.nan


def is_missing(value: object) -> bool:
    """Whether a number is missing: None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------- JSON files
def read_json_file(path: Path, *, missing_ok: bool = False) -> Any:
    """Parse a run file's JSON; None when absent and ``missing_ok``.

    Raises:
        RunError: the file is missing (and not ``missing_ok``) or is not valid JSON.
    """
    return load_json(path, "the run directory is damaged", missing_ok=missing_ok,
                     missing="is missing; the run directory is incomplete")


def _json_dict(path: Path) -> dict[str, Any] | None:
    data = read_json_file(path, missing_ok=True)
    if data is not None and not isinstance(data, dict):
        raise RunError(f"{path} holds {type(data).__name__}, not a JSON object; the run directory is damaged")
    return data


def read_meta(out: Path) -> dict[str, Any]:
    """The whole ``config.json`` dict (schema_version, config, versions, data_root, ...).

    Raises:
        RunError: missing, damaged, or written by another schema version.
    """
    path = out / files.CONFIG
    meta = read_json_file(path)
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or version != files.SCHEMA_VERSION:
        raise RunError(
            f"{path}: schema_version {version!r} is not {files.SCHEMA_VERSION}; "
            "this run was written by another version of cvd_explorer"
        )
    return meta


def config_of(meta: dict[str, Any], out: Path) -> TrainConfig:
    """The :class:`TrainConfig` recorded in a ``config.json`` dict (RunError naming the file if unusable)."""
    if not isinstance(meta.get("config"), dict):
        raise RunError(f"{out / files.CONFIG} records no training config; the run directory is damaged")
    try:
        return TrainConfig.from_dict(meta["config"])
    except CvdError as exc:
        raise RunError(f"{out / files.CONFIG}: {exc}") from None


def recorded_config(out: Path) -> TrainConfig | None:
    """The config of the run in ``out``, or None when there is none or it cannot be read."""
    try:
        return config_of(read_meta(out), out)
    except RunError:
        return None


def recorded_data_root(out: Path) -> Path | None:
    """The data folder recorded in ``out/config.json``, or None."""
    try:
        root = read_meta(out).get("data_root")
    except RunError:
        return None
    return Path(root) if isinstance(root, str) and root else None


def read_status(out: Path) -> dict[str, Any] | None:
    """``status.json`` as a dict, or None when absent (RunError when damaged)."""
    return _json_dict(out / files.STATUS)


def read_summary(out: Path) -> dict[str, Any] | None:
    """``summary.json``, or None before the test evaluation."""
    return _json_dict(out / files.SUMMARY)


def read_model_info(out: Path) -> dict[str, Any] | None:
    """``model.json`` (sha256, epoch, val_accuracy of the best checkpoint), or None before epoch 1."""
    return _json_dict(out / files.MODEL_INFO)


def read_last_state(out: Path) -> dict[str, Any] | None:
    """``last/state.json`` (``epoch`` completed, ``best``, ``evaluated``), or None before epoch 1."""
    return _json_dict(out / files.LAST_DIR / files.LAST_STATE)


def completed_epochs(state: dict[str, Any] | None) -> int:
    """Completed epochs according to a ``last/state.json`` dict (0 for None)."""
    if state is None:
        return 0
    try:
        return int(state["epoch"])
    except (KeyError, TypeError, ValueError):
        raise RunError(
            f"{files.LAST_DIR}/{files.LAST_STATE} has no epoch number; the run directory is damaged"
        ) from None


def finished_all(state: dict[str, Any] | None, epochs: int) -> bool:
    """Whether a run with this ``last/state.json`` has done ``epochs`` epochs and evaluated the test
    split after the last one."""
    done = completed_epochs(state)
    return bool(state and done >= epochs and state.get("evaluated") == done)


def write_last_state(out: Path, state: dict[str, Any]) -> None:
    """Atomically write ``last/state.json`` (the commit point of an epoch), stamped ``updated``."""
    write_json(out / files.LAST_DIR / files.LAST_STATE, {**state, "updated": now_iso()})


# ---------------------------------------------------------------------- history
def read_history(out: Path, upto: int | None = None) -> list[HistoryRow]:
    """Rows of ``history.csv`` in file order ([] when there is none).

    Args:
        out: the run directory.
        upto: keep only epochs ``<= upto`` (the committed ones; later rows are from an epoch
            whose commit did not complete).

    Returns:
        One :data:`HistoryRow` per row with a readable epoch (other rows are skipped): every
        column of ``files.HISTORY_COLUMNS``, NaN where missing.
    """
    try:
        raw_rows = read_csv(out / files.HISTORY)
    except FileNotFoundError:
        return []
    rows = []
    for raw in raw_rows:
        try:
            epoch = int(raw["epoch"])
        except (KeyError, TypeError, ValueError):
            continue
        if upto is not None and epoch > upto:
            continue
        row: HistoryRow = {name: parse_float(raw.get(name)) for name in files.HISTORY_COLUMNS}
        row["epoch"] = epoch
        rows.append(row)
    return rows


def write_history(out: Path, rows: list[HistoryRow]) -> None:
    """Atomically write ``history.csv`` (missing numbers as empty cells)."""
    write_csv(
        out / files.HISTORY,
        files.HISTORY_COLUMNS,
        ([None if is_missing(row.get(c)) else row[c] for c in files.HISTORY_COLUMNS] for row in rows),
    )


# ---------------------------------------------------------------------- predictions
def read_predictions(out: Path, data_root: Path, classes: Sequence[str] | None = None) -> list[Prediction] | None:
    """Test-split predictions, or None when not computed yet.

    Each row: ``path`` (absolute image path under ``data_root``), ``relpath`` (as in the
    manifest), ``label`` and ``predicted`` (class names), ``prob`` (float: P(classes[1]) for two
    classes, the predicted class's probability for K > 2), ``probs`` (K floats in class order,
    summing to 1; for two classes ``(1 - prob, prob)``), ``correct`` (bool) and ``loss`` (float,
    per-image cross-entropy). ``classes`` (the run's, in index order) names the ``p_<class>``
    columns of a K-class file.
    """
    from cvd_explorer.classes import prob_columns

    try:
        raw_rows = read_csv(out / files.PREDICTIONS)
    except FileNotFoundError:
        return None
    columns = prob_columns(classes) if classes is not None and len(classes) > 2 else None
    try:
        rows: list[Prediction] = []
        for raw in raw_rows:
            prob = float(raw["prob"])
            probs = tuple(float(raw[c]) for c in columns) if columns else (1.0 - prob, prob)
            rows.append({
                "path": str(data_root / raw["path"]),
                "relpath": raw["path"],
                "label": raw["label"],
                "prob": prob,
                "probs": probs,
                "predicted": raw["predicted"],
                "correct": raw["correct"] == "1",
                "loss": float(raw["loss"]),
            })
        return rows
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(
            f"{out / files.PREDICTIONS} is damaged ({exc}); recompute it with `cvd-explorer evaluate`"
        ) from None


def write_predictions(
    out: Path, rows: Iterable[Sequence[Any]], classes: Sequence[str] | None = None
) -> None:
    """Atomically write ``predictions.csv``: rows of (path, label, prob, predicted, correct, loss),
    followed for K > 2 ``classes`` by the K class probabilities in the ``p_<class>`` columns."""
    from cvd_explorer.classes import prob_columns

    header: tuple[str, ...] = files.PREDICTION_COLUMNS
    if classes is not None and len(classes) > 2:
        header = (*header, *prob_columns(classes))
    write_csv(out / files.PREDICTIONS, header, rows)


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    """Atomically write ``summary.json`` (NaN and infinity as null)."""
    write_json(out / files.SUMMARY, summary)


# ---------------------------------------------------------------------- writers used by the training
def log(out: Path, text: str) -> None:
    """Append a time-stamped line (or block) to the run's ``log.txt``."""
    append_text(out / files.LOG, f"{now_iso()} {text.rstrip()}\n")


def export_best(out: Path, model: Any, epoch: int, val_accuracy: float) -> None:
    """Write ``model.keras`` (a Keras model's weights, no optimizer) and ``model.json`` with its sha256."""
    write_with(out / files.MODEL, lambda tmp: model.save(tmp, include_optimizer=False))
    write_json(
        out / files.MODEL_INFO,
        {"sha256": sha256_file(out / files.MODEL), "epoch": epoch, "val_accuracy": val_accuracy},
    )


def request_stop(out: Path) -> None:
    """Create ``STOP``: a training in ``out`` stops gracefully after its current batch."""
    (out / files.STOP).touch()


def stop_pending(out: Path) -> bool:
    """Whether a ``STOP`` file is waiting in ``out``."""
    return (out / files.STOP).exists()
