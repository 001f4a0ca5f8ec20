"""The verdict file format: triage verdicts on images, one CSV row per image.

A verdict says whose fault a doubtful image is: ``"label wrong"`` (relabel it), ``"model wrong"``
(keep it: a hard case the model must learn) or ``"not a cat or dog"`` (drop it). The Atlas panel
keeps them in ``RUN/atlas/verdicts.csv`` (:data:`COLUMNS`: ``path,verdict,note,updated``, path as in
the manifest, ``updated`` an ISO time in UTC) and exports them with the given label
(:data:`EXPORT_COLUMNS`) for ``cvd-explorer split DATA --exclude VERDICTS.csv``, which needs only
``path`` and ``verdict``. One reader (:func:`read_verdicts`) and one writer (:func:`write_verdicts`)
serve both; low enough for :mod:`cvd_explorer.data` to import.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cvd_explorer.errors import DataError
from cvd_explorer.fileio import write_csv

LABEL_WRONG, MODEL_WRONG, NOT_AN_ANIMAL = "label wrong", "model wrong", "not a cat or dog"
VERDICTS = (LABEL_WRONG, MODEL_WRONG, NOT_AN_ANIMAL)
COLUMNS = ("path", "verdict", "note", "updated")
EXPORT_COLUMNS = ("path", "verdict", "label", "note", "updated")


@dataclass(frozen=True)
class Verdict:
    """One image's verdict: ``path`` (manifest path), ``verdict`` (one of :data:`VERDICTS`),
    a free ``note`` and the ``updated`` time (ISO 8601, UTC)."""

    path: str
    verdict: str
    note: str
    updated: str


def read_verdicts(path: str | os.PathLike[str]) -> dict[str, Verdict]:
    """``{path: Verdict}`` of a CSV with at least the columns ``path`` and ``verdict``.

    Raises:
        DataError: the file is missing or unreadable, lacks a column, or names an unknown verdict
            (with its line); the file is left as it is.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"path", "verdict"} - set(reader.fieldnames or ())
            if missing:
                raise DataError(f"{path} lacks the column(s) {', '.join(sorted(missing))}; expected "
                                f"{','.join(COLUMNS)} (the Atlas panel's verdicts or their export)")
            out: dict[str, Verdict] = {}
            for number, row in enumerate(reader, start=2):
                verdict = (row.get("verdict") or "").strip()
                if verdict not in VERDICTS:
                    raise DataError(f"{path}:{number}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
                name = (row.get("path") or "").strip()
                out[name] = Verdict(name, verdict, row.get("note") or "", row.get("updated") or "")
            return out
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; give the verdicts CSV the Atlas panel exported") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path} cannot be read as a UTF-8 CSV ({exc}); move it away to start afresh") from None


def write_verdicts(
    path: str | os.PathLike[str], verdicts: Iterable[Verdict], labels: Mapping[str, str] | None = None
) -> Path:
    """Atomically write verdicts sorted by path: :data:`COLUMNS`, or with ``labels`` (``{path: given
    label}``, so that a relabelling knows the label it replaces) :data:`EXPORT_COLUMNS`."""
    ordered = sorted(verdicts, key=lambda v: v.path)
    if labels is None:
        return write_csv(path, COLUMNS, [(v.path, v.verdict, v.note, v.updated) for v in ordered])
    return write_csv(path, EXPORT_COLUMNS,
                     [(v.path, v.verdict, labels.get(v.path, ""), v.note, v.updated) for v in ordered])
