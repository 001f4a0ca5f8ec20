"""Triage verdicts on atlas images, kept in ``RUN/atlas/verdicts.csv``.

A verdict says whose fault a doubtful image is: ``"label wrong"`` (relabel it), ``"model wrong"``
(keep it: a hard case the model must learn) or ``"not a cat or dog"`` (drop it). The file has
the columns ``path,verdict,note,updated`` (path as in the manifest, ``updated`` an ISO time in
UTC); every change rewrites it atomically, so a verdict survives a kernel restart and a reader
never sees half a file. :meth:`Verdicts.export` writes ``path,verdict,label,note,updated`` for
``cvd-explorer split DATA --exclude VERDICTS.csv`` (which reads ``path`` and ``verdict``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cvd_explorer.atomic import write_bytes
from cvd_explorer.errors import RunError
from cvd_explorer.runs.files import ATLAS_DIR

VERDICTS = ("label wrong", "model wrong", "not a cat or dog")
FILE = "verdicts.csv"
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


def verdicts_path(run_path: str | os.PathLike[str]) -> Path:
    """``RUN/atlas/verdicts.csv``."""
    return Path(run_path) / ATLAS_DIR / FILE


class Verdicts:
    """The verdicts of one run, read from and written to ``RUN/atlas/verdicts.csv``.

    Args:
        run_path: the run directory.

    Raises:
        RunError: the file exists but is not a verdicts CSV (it is left as it is).
    """

    def __init__(self, run_path: str | os.PathLike[str]) -> None:
        self.path = verdicts_path(run_path)
        self._items: dict[str, Verdict] = {}
        self.reload()

    def reload(self) -> None:
        """Read the file again (another kernel may have written it)."""
        self._items = read_verdicts(self.path)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Verdict]:
        return iter(self._items.values())

    def __contains__(self, path: object) -> bool:
        return path in self._items

    def get(self, path: str) -> Verdict | None:
        """The verdict on ``path``, or None."""
        return self._items.get(path)

    def as_dict(self) -> dict[str, str]:
        """``{path: verdict}``."""
        return {p: v.verdict for p, v in self._items.items()}

    def set(self, path: str, verdict: str | None, note: str = "") -> Verdict | None:
        """Record (or with ``verdict=None`` remove) the verdict on ``path`` and save the file."""
        if verdict is None:
            self._items.pop(path, None)
            self.save()
            return None
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(map(repr, VERDICTS))}, got {verdict!r}")
        item = Verdict(path, verdict, note.replace("\n", " ").strip(), _now())
        self._items[path] = item
        self.save()
        return item

    def save(self) -> None:
        """Write ``verdicts.csv`` atomically (rows sorted by path)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = [(v.path, v.verdict, v.note, v.updated) for v in sorted(self._items.values(), key=lambda v: v.path)]
        write_bytes(self.path, _csv(COLUMNS, rows))

    def export(self, dest: str | os.PathLike[str], labels: Mapping[str, str] | None = None) -> Path:
        """Write the verdicts for ``cvd-explorer split --exclude``: ``path,verdict,label,note,updated``.

        Args:
            dest: the CSV to write (atomically; its folder must exist).
            labels: ``{path: given label}`` so that a relabelling knows the label it replaces.
        """
        dest = Path(dest)
        if not dest.parent.is_dir():
            raise RunError(f"cannot export the verdicts to {dest}: the folder {dest.parent} does not exist")
        names = labels or {}
        rows = [(v.path, v.verdict, names.get(v.path, ""), v.note, v.updated)
                for v in sorted(self._items.values(), key=lambda v: v.path)]
        write_bytes(dest, _csv(EXPORT_COLUMNS, rows))
        return dest

    def counts(self) -> dict[str, int]:
        """``{verdict: how many}`` for every verdict (zeros included)."""
        out = dict.fromkeys(VERDICTS, 0)
        for v in self._items.values():
            out[v.verdict] += 1
        return out


def read_verdicts(path: Path) -> dict[str, Verdict]:
    """``{path: Verdict}`` of a verdicts file; ``{}`` when there is none."""
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ("path", "verdict") if c not in (reader.fieldnames or [])]
            if missing:
                raise RunError(f"{path} lacks the column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
            items = {}
            for row in reader:
                verdict = row.get("verdict") or ""
                if verdict not in VERDICTS:
                    raise RunError(f"{path}: unknown verdict {verdict!r} for {row.get('path')!r}; "
                                   f"use one of {', '.join(VERDICTS)}")
                items[row["path"]] = Verdict(row["path"], verdict, row.get("note") or "", row.get("updated") or "")
            return items
    except UnicodeDecodeError as exc:
        raise RunError(f"{path} is not a UTF-8 CSV ({exc}); move it away to start afresh") from None


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
