"""Deterministic, stratified train/val/test split stored as ``manifest.csv``.

File format (UTF-8, ``\\n`` line ends, rows sorted by path, paths relative posix)::

    # cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog
    path,label,split
    train/cat.0.jpg,cat,train

Proportions are the reference study's 17,000 / 4,000 / 4,000 of 25,000: per class
``n_val = n_test = round(0.16 * n)`` (half rounds up), the rest train.

When :func:`ensure_manifest` finds a manifest that does not match the scan (other seed or other
files), it never overwrites it silently: the old file is renamed to
``<stem>.<YYYYmmdd-HHMMSS><suffix>.bak`` beside it, ``Manifest.previous`` says where, and a
warning is logged.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from cvd_explorer.atomic import write_bytes as write_atomic
from cvd_explorer.data.scan import ScanResult, scan
from cvd_explorer.errors import DataError

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
VAL_FRACTION = 0.16
TEST_FRACTION = 0.16
MANIFEST_NAME = "manifest.csv"
HEADER = ("path", "label", "split")
_FIRST_LINE = re.compile(
    r"^# cvd-explorer manifest v1 seed=(?P<seed>-?\d+) layout=(?P<layout>\S+) classes=(?P<classes>.+)$"
)


@dataclass(frozen=True)
class ManifestRow:
    """One image: relative posix ``path``, class name ``label``, ``split`` in :data:`SPLITS`."""

    path: str
    label: str
    split: str


@dataclass
class Manifest:
    """A split of the accepted images of one data folder.

    Attributes:
        rows: Rows sorted by path.
        seed: Seed of the split.
        classes: ``(negative, positive)`` class names.
        layout: Layout name of the data folder.
        path: Where the manifest file lives, if written or read.
        previous: Where a replaced, non-matching manifest was moved by :func:`ensure_manifest`.
        root: The data folder the paths are relative to, when known (set by
            :func:`ensure_manifest`; a manifest given with ``--manifest`` may live elsewhere).
    """

    rows: list[ManifestRow]
    seed: int
    classes: tuple[str, str]
    layout: str
    path: Path | None = field(default=None, compare=False)
    previous: Path | None = field(default=None, compare=False)
    root: Path | None = field(default=None, compare=False)

    def to_bytes(self) -> bytes:
        """The canonical file content."""
        for name in self.classes:
            if "," in name or "\n" in name or not name:
                raise DataError(f"class name {name!r} cannot be stored in a manifest (comma or newline)")
        buf = io.StringIO()
        buf.write(
            f"# cvd-explorer manifest v1 seed={self.seed} layout={self.layout} "
            f"classes={self.classes[0]},{self.classes[1]}\n"
        )
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HEADER)
        for row in sorted(self.rows, key=lambda r: r.path):
            writer.writerow((row.path, row.label, row.split))
        return buf.getvalue().encode("utf-8")

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of :meth:`to_bytes` (identifies the split in a run)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def split_rows(self, split: str) -> list[ManifestRow]:
        """Rows of one split (``train``, ``val`` or ``test``), sorted by path."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [row for row in self.rows if row.split == split]

    def label_index(self, label: str) -> int:
        """0 for the negative class, 1 for the positive one."""
        try:
            return self.classes.index(label)
        except ValueError:
            raise DataError(f"unknown class {label!r}; the manifest has {self.classes}") from None

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {class: n}}`` for every split and class (zeros included)."""
        counts = {s: {c: 0 for c in self.classes} for s in SPLITS}
        for row in self.rows:
            counts[row.split][row.label] += 1
        return counts

    def pairs(self) -> set[tuple[str, str]]:
        """The ``(path, label)`` set, to compare with a scan's accepted files."""
        return {(row.path, row.label) for row in self.rows}


# A binary classifier needs examples of both classes (a folder of cats alone trains to a
# meaningless 100%).
MIN_PER_CLASS = 1


def split_sizes(n: int) -> tuple[int, int, int]:
    """``(train, val, test)`` sizes for ``n`` images of one class."""
    n_val = int(np.floor(VAL_FRACTION * n + 0.5))
    n_test = int(np.floor(TEST_FRACTION * n + 0.5))
    return n - n_val - n_test, n_val, n_test


def make_split(scan_result: ScanResult, seed: int = 0) -> Manifest:
    """Split the accepted images of a scan, stratified by class.

    Each class's sorted paths are permuted by ``numpy.random.default_rng(seed)`` (one generator,
    classes in ``(negative, positive)`` order); the first ``n_val`` go to val, the next
    ``n_test`` to test, the rest to train. Unlabelled files are never included.

    Raises:
        DataError: a class has fewer than :data:`MIN_PER_CLASS` accepted images.
    """
    counts = scan_result.counts()
    small = [f"{name} ({counts.get(name, 0)})" for name in scan_result.classes if counts.get(name, 0) < MIN_PER_CLASS]
    if small:
        raise DataError(
            f"{scan_result.root}: no accepted images of {', '.join(small)}; a cat-vs-dog classifier "
            "needs images of both classes (see `cvd-explorer scan` for what was found)"
        )
    rng = np.random.default_rng(seed)
    rows: list[ManifestRow] = []
    for label in scan_result.classes:
        paths = sorted(p for p, c in scan_result.accepted if c == label)
        _, n_val, n_test = split_sizes(len(paths))
        order = rng.permutation(len(paths))
        for rank, index in enumerate(order):
            split = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
            rows.append(ManifestRow(paths[index], label, split))
    rows.sort(key=lambda r: r.path)
    return Manifest(rows, int(seed), tuple(scan_result.classes), scan_result.layout)


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a ``manifest.csv``.

    Raises:
        DataError: Missing or malformed file (the message names the file and line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such manifest; create one with `cvd-explorer split DATA`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the manifest ({exc})") from None
    lines = text.splitlines()
    match = _FIRST_LINE.match(lines[0]) if lines else None
    if not match:
        raise DataError(
            f"{path}:1: not a cvd-explorer manifest (expected '# cvd-explorer manifest v1 seed=N "
            "layout=NAME classes=NEG,POS')"
        )
    classes = tuple(match["classes"].split(","))
    if len(classes) != 2 or not all(classes):
        raise DataError(f"{path}:1: expected two classes 'classes=NEG,POS', got {match['classes']!r}")
    reader = csv.reader(lines[1:])
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    for number, fields in enumerate(reader, start=2):
        if number == 2:
            if tuple(fields) != HEADER:
                raise DataError(f"{path}:2: expected the header 'path,label,split', got {','.join(fields)!r}")
            continue
        if not fields:
            continue
        if len(fields) != 3:
            raise DataError(f"{path}:{number}: expected 3 fields path,label,split, got {len(fields)}")
        rel, label, split = fields
        pure = PurePosixPath(rel)
        if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel:
            raise DataError(f"{path}:{number}: path {rel!r} must be relative to the data folder (posix)")
        if label not in classes:
            raise DataError(f"{path}:{number}: label {label!r} is not one of {classes[0]}, {classes[1]}")
        if split not in SPLITS:
            raise DataError(f"{path}:{number}: split {split!r} is not one of train, val, test")
        if rel in seen:
            raise DataError(f"{path}:{number}: {rel} is listed twice")
        seen.add(rel)
        rows.append(ManifestRow(rel, label, split))
    if len(lines) < 2:
        raise DataError(f"{path}:2: missing the header 'path,label,split'")
    rows.sort(key=lambda r: r.path)
    return Manifest(rows, int(match["seed"]), classes, match["layout"], path=path)


def write_manifest(manifest: Manifest, path: str | os.PathLike[str]) -> Path:
    """Write ``manifest`` atomically to ``path``; sets and returns ``manifest.path``."""
    path = Path(path)
    write_atomic(path, manifest.to_bytes())
    manifest.path = path
    return path


def _backup_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = path.with_name(f"{path.stem}.{stamp}{path.suffix}.bak"), 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}.bak")
    return candidate


def _read_if_usable(path: Path) -> Manifest | None:
    try:
        return read_manifest(path)
    except DataError as exc:
        logger.warning("ignoring the unusable manifest %s", exc)
        return None


def ensure_manifest(
    root: str | os.PathLike[str],
    seed: int = 0,
    manifest_path: str | os.PathLike[str] | None = None,
    scan_result: ScanResult | None = None,
) -> tuple[Manifest, bool]:
    """Reuse the manifest of a data folder if it still matches, else write a new one.

    A manifest is reused when its seed equals ``seed`` and its ``(path, label)`` set equals the
    scan's accepted set. Otherwise a new split is written; an existing non-matching file is first
    renamed to ``<stem>.<timestamp><suffix>.bak`` (see ``Manifest.previous``).

    Args:
        root: Data folder.
        seed: Split seed.
        manifest_path: Where the manifest lives (default ``root/manifest.csv``).
        scan_result: A scan of ``root`` (default: scan it now, cached).

    Returns:
        ``(manifest, reused)``.

    Raises:
        DataError: The manifest cannot be written (e.g. read-only data folder: pass
            ``--manifest PATH``).
    """
    root = Path(root)
    result = scan_result if scan_result is not None else scan(root)
    path = Path(manifest_path) if manifest_path is not None else root / MANIFEST_NAME
    existing = _read_if_usable(path) if path.exists() else None
    if existing is not None and existing.seed == int(seed) and existing.pairs() == set(result.accepted):
        existing.root = root
        return existing, True
    manifest = make_split(result, seed)
    manifest.root = root
    try:
        if path.exists():
            backup = _backup_name(path)
            os.replace(path, backup)
            manifest.previous = backup
            logger.warning("%s did not match the data (or seed); moved it to %s", path, backup)
        write_manifest(manifest, path)
    except OSError as exc:
        hint = "" if manifest_path is not None else "; pass --manifest PATH to keep it elsewhere"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise DataError(f"{path}: cannot write the manifest, the folder is read-only{hint}") from None
        raise DataError(f"{path}: cannot write the manifest ({exc.strerror or exc}){hint}") from None
    return manifest, False
