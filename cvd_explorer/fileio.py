"""Crash-safe reading and writing of the toolkit's files: the ground floor every layer may import.

Every write goes to a temporary file in the destination folder (``.<name>.<random>.tmp``, or
``.<stem>.<random>.tmp<suffix>`` for files written by other libraries), is flushed and fsynced,
then moved over the destination with :func:`os.replace` (atomic on POSIX and Windows): a reader
sees the old file or the new one, never half of one, whenever the writer dies. A writer killed
before the rename leaves its temporary file behind; :func:`remove_strays` clears them.

Readers of JSON and ``.npz`` files turn a damaged file into a :class:`~cvd_explorer.errors.RunError`
naming it and saying what to do. Imports only the standard library, numpy and
:mod:`cvd_explorer.errors`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.errors import RunError

PathLike = str | os.PathLike[str]

# mkstemp creates files readable by the owner only; run files get the usual permissions instead.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
STRAY_PATTERN = ".*.tmp*"
"""Names of the temporary files this module creates (see the module docstring)."""


def now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds (``2024-01-31T12:00:00.123+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------------- atomic writes
def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; the rename is durable enough there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def temp_path(path: PathLike) -> Path:
    """A fresh, unused temporary name next to ``path`` (same folder, same suffix)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)
    return Path(tmp)


def write_with(path: PathLike, writer: Callable[[Path], None]) -> Path:
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


def remove_strays(folder: Path) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (not recursive); returns them."""
    if not folder.is_dir():
        return []
    removed = [p for p in folder.glob(STRAY_PATTERN) if p.is_file()]
    for stray in removed:
        stray.unlink(missing_ok=True)
    return removed


def append_text(path: PathLike, text: str) -> None:
    """Append ``text`` to a log file and flush it to disk (logs are appended, not replaced)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------- JSON
def write_json(path: PathLike, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON (NaN and infinity written as null)."""
    text = json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"
    return write_bytes(path, text.encode("utf-8"))


def read_json(path: PathLike) -> Any:
    """Parse a JSON file (raises FileNotFoundError / json.JSONDecodeError as they come)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_json(path: PathLike, fix: str, *, missing_ok: bool = False, missing: str = "is missing") -> Any:
    """Parse a JSON file; a damaged one raises RunError naming it.

    Args:
        path: the file.
        fix: what the reader should do about a damaged file (ends the error message).
        missing_ok: return None when the file does not exist.
        missing: the error message after the path when the file does not exist (and not ``missing_ok``).

    Raises:
        RunError: the file is missing (and not ``missing_ok``) or is not valid UTF-8 JSON.
    """
    try:
        return read_json(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise RunError(f"{path} {missing}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is not valid JSON ({exc}); {fix}") from None


# ---------------------------------------------------------------------- CSV
def write_csv(path: PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Atomically write a CSV file (``\\n`` line ends, floats with full precision, bools as 1/0)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return write_bytes(path, buf.getvalue().encode("utf-8"))


def read_csv(path: PathLike) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def csv_cell(value: Any) -> Any:
    """One CSV cell as the writers store it: floats by ``repr`` (``nan`` for NaN), bools as 1/0."""
    if isinstance(value, float):
        return repr(value) if value == value else "nan"
    if isinstance(value, bool):
        return int(value)
    return value


# ---------------------------------------------------------------------- NPZ
def write_npz(path: PathLike, arrays: Mapping[str, Any], *, compress: bool = True) -> Path:
    """Atomically write arrays as an ``.npz`` (compressed unless told otherwise; no pickles)."""
    buf = io.BytesIO()
    values = {k: np.asarray(v) for k, v in arrays.items()}
    if compress:
        np.savez_compressed(buf, allow_pickle=False, **values)
    else:
        np.savez(buf, allow_pickle=False, **values)
    return write_bytes(path, buf.getvalue())


def read_npz(path: PathLike, fix: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickles).

    Raises:
        FileNotFoundError: there is no such file. RunError: it is damaged (the message names it and ends with ``fix``).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise RunError(f"{path} is damaged ({exc}); {fix}") from None


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if data == data and abs(data) != float("inf") else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data
