"""Triage verdicts on atlas images, kept in ``RUN/atlas/verdicts.csv``.

The file format (columns, the three verdicts, reading and writing) is :mod:`cvd_explorer.verdicts`;
here is the run's store of them. Every change rewrites the file atomically, so a verdict survives a
kernel restart and a reader never sees half a file. :meth:`Verdicts.export` writes
``path,verdict,label,note,updated`` for ``cvd-explorer split DATA --exclude VERDICTS.csv``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path

from cvd_explorer.errors import RunError
from cvd_explorer.runs.files import ATLAS_DIR
from cvd_explorer.verdicts import VERDICTS, Verdict, read_verdicts, write_verdicts

FILE = "verdicts.csv"
EXPORT_FILE = "verdicts-export.csv"


def verdicts_path(run_path: str | os.PathLike[str]) -> Path:
    """``RUN/atlas/verdicts.csv``."""
    return Path(run_path) / ATLAS_DIR / FILE


def export_path(run_path: str | os.PathLike[str]) -> Path:
    """``RUN/atlas/verdicts-export.csv``: where the Atlas panel exports the verdicts by default."""
    return Path(run_path) / ATLAS_DIR / EXPORT_FILE


class Verdicts:
    """The verdicts of one run, read from and written to ``RUN/atlas/verdicts.csv``.

    Args:
        run_path: the run directory.

    Raises:
        DataError: the file exists but is not a verdicts CSV (it is left as it is).
    """

    def __init__(self, run_path: str | os.PathLike[str]) -> None:
        self.path = verdicts_path(run_path)
        self._items: dict[str, Verdict] = {}
        self.reload()

    def reload(self) -> None:
        """Read the file again (another kernel may have written it)."""
        self._items = read_verdicts(self.path) if self.path.is_file() else {}

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
        write_verdicts(self.path, self._items.values())

    def export(self, dest: str | os.PathLike[str], labels: Mapping[str, str] | None = None) -> Path:
        """Write the verdicts for ``cvd-explorer split --exclude``: ``path,verdict,label,note,updated``.

        Args:
            dest: the CSV to write (atomically; its folder must exist).
            labels: ``{path: given label}`` so that a relabelling knows the label it replaces.
        """
        dest = Path(dest)
        if not dest.parent.is_dir():
            raise RunError(f"cannot export the verdicts to {dest}: the folder {dest.parent} does not exist")
        return write_verdicts(dest, self._items.values(), labels or {})

    def counts(self) -> dict[str, int]:
        """``{verdict: how many}`` for every verdict (zeros included)."""
        out = dict.fromkeys(VERDICTS, 0)
        for v in self._items.values():
            out[v.verdict] += 1
        return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
