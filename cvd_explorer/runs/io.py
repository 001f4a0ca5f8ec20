"""Crash-safe file writes for run directories.

Every write goes to a temporary file in the destination folder, is flushed and fsynced, then
moved over the destination with :func:`os.replace` (atomic on POSIX and Windows): a reader sees
the old file or the new one, never half of one, whenever the writer dies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cvd_explorer.atomic import _FILE_MODE, fsync_dir, write_bytes  # noqa: F401  (re-exported)


def now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds (``2024-01-31T12:00:00.123+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh, unused temporary name next to ``path`` (same folder, same suffix)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)
    return Path(tmp)


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> Path:
    """Atomically create ``path`` by letting ``writer(tmp_path)`` write a temporary file.

    Used for files written by other libraries (``model.save``). The temporary file is fsynced
    before it replaces ``path``; on failure it is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Atomically write ``data`` as indented JSON (NaN and infinity written as null)."""
    text = json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"
    return write_bytes(path, text.encode("utf-8"))


def write_csv(path: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Atomically write a CSV file (``\\n`` line ends, floats with full precision)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return write_bytes(path, buf.getvalue().encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file (raises FileNotFoundError / json.JSONDecodeError as they come)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Append ``text`` to a log file and flush it to disk (logs are appended, not replaced)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value) if value == value else "nan"
    if isinstance(value, bool):
        return int(value)
    return value


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if data == data and abs(data) != float("inf") else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data
