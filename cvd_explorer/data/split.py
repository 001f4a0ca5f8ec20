"""Deterministic, stratified train/val/test split stored as ``manifest.csv`` and ``manifest.json``.

``manifest.csv`` is a plain CSV (UTF-8, ``\\n`` line ends, rows sorted by path, paths relative
posix) that ``pandas.read_csv`` and spreadsheets read as is::

    path,label,split,group
    train/cat.0.jpg,cat,train,
    train/cat.1.jpg,cat,test,g1
    train/cat.7.jpg,cat,test,g1

``group`` names the duplicate group (:mod:`cvd_explorer.data.duplicates`) an image belongs to;
it is empty for an image without copies, and all images of a group share one split. The sidecar
``manifest.json`` beside it (same stem) holds the metadata: format version, seed, layout,
classes, counts, the number of duplicate groups kept together and the CSV's sha256 (a sidecar
whose sha256 does not match its CSV is ignored). ``classes`` is the list of the K >= 2 class
names in index order (label index i is ``classes[i]``; with two, ``[negative, positive]``); for
the Oxford-IIIT Pet layout, ``class_mode`` says whether they are the breeds or the species. The
CSV alone is enough to use a split (a run folder keeps only the CSV): without its sidecar the
classes are the labels of the rows, sorted as strings (the order every layout gives them), and
the seed and layout are unknown (None).

Manifests written before duplicates were grouped (version 1: a first line
``# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog``, then ``path,label,split``)
are still read, and written back in that form (so a run's recorded sha256 still matches); they
are never rewritten silently: :func:`cvd_explorer.data.leakage.leakage` reports how many test
images have a copy in train or validation.

Proportions are the reference study's 17,000 / 4,000 / 4,000 of 25,000: per class
``n_val = n_test = round(0.16 * n)`` (half rounds up), the rest train.

When :func:`ensure_manifest` finds a manifest that does not match the scan (other seed or other
files), it never overwrites it silently: the old file is renamed to
``<stem>.<YYYYmmdd-HHMMSS><suffix>.bak`` beside it (its sidecar to ``....json.bak``),
``Manifest.previous`` says where, and a warning is logged.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from cvd_explorer.data.duplicates import DuplicateGroup
from cvd_explorer.data.scan import ScanResult, scan
from cvd_explorer.errors import DataError
from cvd_explorer.fileio import write_bytes as write_atomic

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
VAL_FRACTION = 0.16
TEST_FRACTION = 0.16
MANIFEST_NAME = "manifest.csv"
FORMAT_VERSION = 2
"""2: plain CSV with a ``group`` column and a JSON sidecar; 1: a ``#`` first line, no groups."""
HEADER = ("path", "label", "split", "group")
HEADER_V1 = ("path", "label", "split")
_FIRST_LINE = re.compile(
    r"^# cvd-explorer manifest v1 seed=(?P<seed>-?\d+) layout=(?P<layout>\S+) classes=(?P<classes>.+)$"
)
_GROUP_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ManifestRow:
    """One image: relative posix ``path``, class name ``label``, ``split`` in :data:`SPLITS`.

    ``group`` is the id of the image's duplicate group, ``""`` for an image without copies.
    """

    path: str
    label: str
    split: str
    group: str = ""


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The metadata file of a manifest: ``x.csv`` -> ``x.json``, ``x.csv.bak`` -> ``x.json.bak``."""
    path = Path(path)
    name = path.name
    for suffix, replacement in ((".csv.bak", ".json.bak"), (".csv", ".json")):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)] + replacement)
    return path.with_name(name + ".json")


@dataclass
class Manifest:
    """A split of the accepted images of one data folder.

    Attributes:
        rows: Rows sorted by path.
        seed: Seed of the split; None when unknown (a CSV read without its sidecar).
        classes: The K >= 2 class names in index order (with two, ``(negative, positive)``).
        layout: Layout name of the data folder; None when unknown.
        path: Where the manifest file lives, if written or read.
        previous: Where a replaced, non-matching manifest was moved by :func:`ensure_manifest`.
        root: The data folder the paths are relative to, when known (set by
            :func:`ensure_manifest`; a manifest given with ``--manifest`` may live elsewhere).
        version: File format (:data:`FORMAT_VERSION`; 1 for a manifest read in the old form,
            which is written back in that form).
        cleaned: For a manifest written by :func:`cvd_explorer.data.clean.clean_manifest`: what was
            changed (``{"from", "verdicts", "removed", "relabelled"}``), kept in the sidecar; such a
            manifest is reused as long as its images are still accepted by the scan.
        class_mode: The Oxford-IIIT Pet layout's ``"breeds"`` or ``"species"`` (kept in the
            sidecar), else None.
    """

    rows: list[ManifestRow]
    seed: int | None
    classes: tuple[str, ...]
    layout: str | None
    path: Path | None = field(default=None, compare=False)
    previous: Path | None = field(default=None, compare=False)
    root: Path | None = field(default=None, compare=False)
    version: int = field(default=FORMAT_VERSION, compare=False)
    cleaned: dict[str, Any] | None = field(default=None, compare=False)
    class_mode: str | None = field(default=None, compare=False)

    def to_bytes(self) -> bytes:
        """The canonical ``manifest.csv`` content (what :attr:`sha256` hashes)."""
        for name in self.classes:
            if "," in name or "\n" in name or not name:
                raise DataError(f"class name {name!r} cannot be stored in a manifest (comma or newline)")
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        rows = sorted(self.rows, key=lambda r: r.path)
        if self.version == 1:
            buf.write(
                f"# cvd-explorer manifest v1 seed={self.seed} layout={self.layout} "
                f"classes={','.join(self.classes)}\n"
            )
            writer.writerow(HEADER_V1)
            writer.writerows((row.path, row.label, row.split) for row in rows)
        else:
            writer.writerow(HEADER)
            writer.writerows((row.path, row.label, row.split, row.group) for row in rows)
        return buf.getvalue().encode("utf-8")

    def sidecar(self) -> dict[str, Any]:
        """The ``manifest.json`` content: format, seed, layout, classes, counts, groups, CSV sha256."""
        return {
            "format": "cvd-explorer manifest",
            "version": self.version,
            "file": self.path.name if self.path is not None else MANIFEST_NAME,
            "sha256": self.sha256,
            "seed": self.seed,
            "layout": self.layout,
            "classes": list(self.classes),
            **({"class_mode": self.class_mode} if self.class_mode is not None else {}),
            "counts": self.counts(),
            "duplicate_groups": self.group_count,
            "images_in_groups": sum(1 for row in self.rows if row.group),
            "note": "duplicate groups (column group) are kept together, each inside one split",
            **({"cleaned": self.cleaned} if self.cleaned is not None else {}),
        }

    def sidecar_bytes(self) -> bytes:
        """:meth:`sidecar` as indented JSON."""
        return (json.dumps(self.sidecar(), indent=1) + "\n").encode("utf-8")

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of :meth:`to_bytes` (identifies the split in a run)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @property
    def group_count(self) -> int:
        """How many duplicate groups the ``group`` column names."""
        return len({row.group for row in self.rows if row.group})

    def split_rows(self, split: str) -> list[ManifestRow]:
        """Rows of one split (``train``, ``val`` or ``test``), sorted by path."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [row for row in self.rows if row.split == split]

    def label_index(self, label: str) -> int:
        """The index of a class name in :attr:`classes` (with two: 0 negative, 1 positive)."""
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


# A classifier needs examples of every class (a folder of cats alone trains to a meaningless
# 100%). With K > 2 classes each needs a few: a class folder of one or two images is more
# likely a stray folder than a class. Two classes keep the seed's rule (one image each).
MIN_PER_CLASS = 1
MIN_PER_CLASS_MULTI = 3


def split_sizes(n: int) -> tuple[int, int, int]:
    """``(train, val, test)`` sizes for ``n`` images of one class."""
    n_val = int(np.floor(VAL_FRACTION * n + 0.5))
    n_test = int(np.floor(TEST_FRACTION * n + 0.5))
    return n - n_val - n_test, n_val, n_test


def make_split(scan_result: ScanResult, seed: int = 0) -> Manifest:
    """Split the accepted images of a scan, stratified by class, duplicate groups kept together.

    Each class's sorted paths are permuted by ``numpy.random.default_rng(seed)`` (one generator,
    classes in index order); the first ``n_val`` go to val, the next
    ``n_test`` to test, the rest to train. Unlabelled files are never included. Without
    duplicates, that is the whole rule. Each duplicate group of the scan (numbered ``g1``,
    ``g2``, ... by first path) then moves as a unit into the split its first image drew, and
    images without copies move between splits (the last-drawn first) until every class has its
    sizes again, as near as the groups allow.

    Raises:
        DataError: a class has no accepted image, or, with K > 2 classes, fewer than
            :data:`MIN_PER_CLASS_MULTI` (the message names the class).
    """
    _check_class_sizes(scan_result)
    rng = np.random.default_rng(seed)
    label_of = dict(scan_result.accepted)
    split_of: dict[str, str] = {}
    rank: dict[str, int] = {}
    for label in scan_result.classes:
        paths = sorted(p for p, c in scan_result.accepted if c == label)
        _, n_val, n_test = split_sizes(len(paths))
        order = rng.permutation(len(paths))
        for r, index in enumerate(order):
            split_of[paths[index]] = "val" if r < n_val else "test" if r < n_val + n_test else "train"
            rank[paths[index]] = r
    group_of = _assign_groups(scan_result.duplicates, label_of, split_of)
    if group_of:
        _rebalance(scan_result.classes, label_of, split_of, rank, group_of)
    rows = [ManifestRow(p, label_of[p], split_of[p], group_of.get(p, "")) for p in sorted(split_of)]
    return Manifest(rows, int(seed), tuple(scan_result.classes), scan_result.layout,
                    class_mode=scan_result.class_mode)


def _check_class_sizes(scan_result: ScanResult) -> None:
    """Refuse a scan with a class of too few accepted images (see :func:`make_split`), naming it."""
    counts = scan_result.counts()
    empty = [f"{name} (0)" for name in scan_result.classes if counts.get(name, 0) == 0]
    if empty:
        raise DataError(
            f"{scan_result.root}: no accepted images of {', '.join(empty)}; a classifier needs images of "
            "every class (see `cvd-explorer scan` for what was found)"
        )
    least = MIN_PER_CLASS if len(scan_result.classes) <= 2 else MIN_PER_CLASS_MULTI
    small = [f"{name} ({counts[name]})" for name in scan_result.classes if counts[name] < least]
    if small:
        raise DataError(
            f"{scan_result.root}: too few accepted images of {', '.join(small)}; with "
            f"{len(scan_result.classes)} classes every class needs at least {least} (add images, or move "
            "the class folder out or rename it to start with '_'; see `cvd-explorer scan`)"
        )


def _assign_groups(
    duplicates: Sequence[DuplicateGroup], label_of: dict[str, str], split_of: dict[str, str]
) -> dict[str, str]:
    """Put every group into its first image's split; returns path -> group id."""
    group_of: dict[str, str] = {}
    members = [sorted(p for p in g.paths if p in label_of and p not in group_of) for g in duplicates]
    for number, paths in enumerate(sorted((m for m in members if len(m) >= 2), key=lambda m: m[0]), start=1):
        target = split_of[paths[0]]
        for p in paths:
            split_of[p] = target
            group_of[p] = f"g{number}"
    return group_of


def _rebalance(
    classes: tuple[str, ...], label_of: dict[str, str], split_of: dict[str, str], rank: dict[str, int],
    group_of: dict[str, str],
) -> None:
    """Move images without copies between splits until each class has its split sizes (or none is left)."""
    for label in classes:
        paths = [p for p in split_of if label_of[p] == label]
        target = dict(zip(("train", "val", "test"), split_sizes(len(paths)), strict=True))
        loose = {s: sorted((p for p in paths if split_of[p] == s and p not in group_of), key=lambda p: -rank[p])
                 for s in SPLITS}
        have = {s: sum(1 for p in paths if split_of[p] == s) for s in SPLITS}
        for source in SPLITS:
            for dest in SPLITS:
                while have[source] > target[source] and have[dest] < target[dest] and loose[source]:
                    moved = loose[source].pop(0)
                    split_of[moved] = dest
                    have[source] -= 1
                    have[dest] += 1


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such manifest; create one with `cvd-explorer split DATA`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the manifest ({exc})") from None


def _check_row(path: Path, number: int, rel: str, split: str, seen: set[str]) -> None:
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel:
        raise DataError(f"{path}:{number}: path {rel!r} must be relative to the data folder (posix)")
    if split not in SPLITS:
        raise DataError(f"{path}:{number}: split {split!r} is not one of train, val, test")
    if rel in seen:
        raise DataError(f"{path}:{number}: {rel} is listed twice")
    seen.add(rel)


def _read_v1(path: Path, lines: list[str]) -> Manifest:
    """The old form: ``# cvd-explorer manifest v1 ...`` then ``path,label,split``."""
    match = _FIRST_LINE.match(lines[0])
    if not match:
        raise DataError(
            f"{path}:1: not a cvd-explorer manifest (expected the header 'path,label,split,group', or "
            "'# cvd-explorer manifest v1 seed=N layout=NAME classes=NEG,POS' in the old form)"
        )
    names = match["classes"].split(",")
    if len(names) != 2 or not all(names):
        raise DataError(f"{path}:1: expected two classes 'classes=NEG,POS', got {match['classes']!r}")
    classes = (names[0], names[1])
    if len(lines) < 2:
        raise DataError(f"{path}:2: missing the header 'path,label,split'")
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    for number, fields in enumerate(csv.reader(lines[1:]), start=2):
        if number == 2:
            if tuple(fields) != HEADER_V1:
                raise DataError(f"{path}:2: expected the header 'path,label,split', got {','.join(fields)!r}")
            continue
        if not fields:
            continue
        if len(fields) != 3:
            raise DataError(f"{path}:{number}: expected 3 fields path,label,split, got {len(fields)}")
        rel, label, split = fields
        if label not in classes:
            raise DataError(f"{path}:{number}: label {label!r} is not one of {', '.join(classes)}")
        _check_row(path, number, rel, split, seen)
        rows.append(ManifestRow(rel, label, split))
    rows.sort(key=lambda r: r.path)
    return Manifest(rows, int(match["seed"]), classes, match["layout"], path=path, version=1)


def _read_sidecar(path: Path, text: str) -> dict[str, Any] | None:
    """The sidecar of ``path`` when it exists, parses and describes exactly this CSV text."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        logger.warning("%s: cannot read the manifest's metadata (%s); seed and layout unknown", side, exc)
        return None
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(text.encode("utf-8")).hexdigest():
        logger.warning("%s does not describe %s (sha256 differs); seed and layout unknown", side, path.name)
        return None
    classes = meta.get("classes")
    if not (isinstance(classes, list) and len(classes) >= 2 and len(set(classes)) == len(classes)
            and all(isinstance(c, str) and c for c in classes)):
        logger.warning("%s: no list of two or more class names; using the labels of the rows", side)
        meta.pop("classes", None)
    return meta


def _read_v2(path: Path, text: str, lines: list[str]) -> Manifest:
    """The plain CSV ``path,label,split,group`` plus its sidecar when present."""
    reader = csv.reader(lines)
    header = next(reader, [])
    if tuple(header) != HEADER:
        raise DataError(
            f"{path}:1: not a cvd-explorer manifest (expected the header 'path,label,split,group', got "
            f"{','.join(header)!r})"
        )
    rows: list[ManifestRow] = []
    numbers: dict[str, int] = {}
    seen: set[str] = set()
    for number, fields in enumerate(reader, start=2):
        if not fields:
            continue
        if len(fields) != 4:
            raise DataError(f"{path}:{number}: expected 4 fields path,label,split,group, got {len(fields)}")
        rel, label, split, group = fields
        _check_row(path, number, rel, split, seen)
        if not label:
            raise DataError(f"{path}:{number}: empty label")
        if group and not _GROUP_ID.match(group):
            raise DataError(f"{path}:{number}: group {group!r} must be letters, digits, '_', '.' or '-'")
        rows.append(ManifestRow(rel, label, split, group))
        numbers.setdefault(label, number)
    meta = _read_sidecar(path, text) or {}
    if "classes" in meta:
        classes = tuple(str(c) for c in meta["classes"])
    else:
        classes = tuple(sorted(numbers))
        if len(classes) < 2:
            side = sidecar_path(path).name
            raise DataError(
                f"{path}: the rows name {len(classes)} class(es) ({', '.join(classes) or 'none'}), a manifest "
                f"needs two or more; restore {side} beside it (it names the classes) or split again with "
                "`cvd-explorer split DATA`"
            )
    for label, number in numbers.items():
        if label not in classes:
            raise DataError(f"{path}:{number}: label {label!r} is not one of {', '.join(classes)}")
    seed, layout, cleaned, mode = meta.get("seed"), meta.get("layout"), meta.get("cleaned"), meta.get("class_mode")
    rows.sort(key=lambda r: r.path)
    return Manifest(
        rows, seed if isinstance(seed, int) else None, classes, layout if isinstance(layout, str) else None,
        path=path, cleaned=cleaned if isinstance(cleaned, dict) else None,
        class_mode=mode if isinstance(mode, str) else None,
    )


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a ``manifest.csv`` (and its ``manifest.json`` sidecar when present), either form.

    Raises:
        DataError: Missing or malformed file (the message names the file and line).
    """
    path = Path(path)
    text = _read_text(path)
    lines = text.splitlines()
    if lines and lines[0].startswith("#"):
        return _read_v1(path, lines)
    return _read_v2(path, text, lines)


def write_manifest(manifest: Manifest, path: str | os.PathLike[str]) -> Path:
    """Write ``manifest`` atomically to ``path``, then its sidecar; sets and returns ``manifest.path``."""
    path = Path(path)
    write_atomic(path, manifest.to_bytes())
    manifest.path = path
    if manifest.version >= 2:
        write_atomic(sidecar_path(path), manifest.sidecar_bytes())
    return path


def _backup_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = path.with_name(f"{path.stem}.{stamp}{path.suffix}.bak"), 0
    while candidate.exists() or sidecar_path(candidate).exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}.bak")
    return candidate


def backup_existing(path: Path) -> Path | None:
    """Move a manifest (and its sidecar) at ``path`` out of the way (``*.bak``); returns where, or None."""
    if not path.exists():
        return None
    backup = _backup_name(path)
    if sidecar_path(path).exists():
        os.replace(sidecar_path(path), sidecar_path(backup))
    os.replace(path, backup)
    return backup


def _read_if_usable(path: Path) -> Manifest | None:
    try:
        return read_manifest(path)
    except DataError as exc:
        logger.warning("ignoring the unusable manifest %s", exc)
        return None


def recorded_class_mode(path: str | os.PathLike[str]) -> str | None:
    """The ``class_mode`` of the manifest at ``path`` (Oxford-IIIT Pet: breeds or species), or None."""
    path = Path(path)
    existing = _read_if_usable(path) if path.is_file() else None
    return existing.class_mode if existing is not None else None


def _reusable(existing: Manifest, result: ScanResult, seed: int, regroup: bool, path: Path) -> bool:
    """Whether ``existing`` is the split to keep (same files and seed; with ``regroup``, same groups too).

    A cleaned manifest (``split --exclude``) is kept while every image it lists is still accepted.
    """
    if existing.cleaned is not None:
        return {p for p, _ in existing.pairs()} <= {p for p, _ in result.accepted}
    if existing.pairs() != set(result.accepted):
        return False
    if existing.seed is None:  # sidecar lost: keep the CSV when it is exactly this seed's split
        fresh = make_split(result, seed)
        if [(r.path, r.split, r.group) for r in fresh.rows] != [(r.path, r.split, r.group) for r in existing.rows]:
            return False
        existing.seed, existing.layout = seed, result.layout
        try:
            write_atomic(sidecar_path(path), existing.sidecar_bytes())
        except OSError as exc:
            logger.warning("cannot restore %s: %s", sidecar_path(path), exc)
        return True
    if existing.seed != seed:
        return False
    return not regroup or make_split(result, seed).to_bytes() == existing.to_bytes()


def ensure_manifest(
    root: str | os.PathLike[str],
    seed: int | None = 0,
    manifest_path: str | os.PathLike[str] | None = None,
    scan_result: ScanResult | None = None,
    *,
    regroup: bool = False,
    classes: str | None = None,
) -> tuple[Manifest, bool]:
    """Reuse the manifest of a data folder if it still matches, else write a new one.

    A manifest is reused when its seed equals ``seed`` and its ``(path, label)`` set equals the
    scan's accepted set, whatever its form: an old one (no ``group`` column) is reused as it is;
    check it with :func:`cvd_explorer.data.leakage.leakage`. Otherwise a new split is written;
    an existing non-matching file is first renamed to ``<stem>.<timestamp><suffix>.bak`` (see
    ``Manifest.previous``).

    Args:
        root: Data folder.
        seed: Split seed; None keeps the existing manifest's seed (0 when there is none).
        manifest_path: Where the manifest lives (default ``root/manifest.csv``).
        scan_result: A scan of ``root`` (default: scan it now, cached).
        regroup: Also replace a matching manifest that does not keep the scan's duplicate
            groups together the way :func:`make_split` does (e.g. one written before groups).
        classes: Oxford-IIIT Pet layout: ``"breeds"`` or ``"species"``; None keeps the existing
            manifest's choice (breeds when there is none). Used when ``scan_result`` is None.

    Returns:
        ``(manifest, reused)``.

    Raises:
        DataError: The manifest cannot be written (e.g. read-only data folder: pass
            ``--manifest PATH``).
    """
    root = Path(root)
    path = Path(manifest_path) if manifest_path is not None else root / MANIFEST_NAME
    existing = _read_if_usable(path) if path.exists() else None
    if classes is None and existing is not None:
        classes = existing.class_mode
    result = scan_result if scan_result is not None else scan(root, classes=classes)
    if seed is None:
        seed = existing.seed if existing is not None and existing.seed is not None else 0
    if existing is not None and _reusable(existing, result, int(seed), regroup, path):
        existing.root = root
        return existing, True
    manifest = make_split(result, int(seed))
    manifest.root = root
    try:
        if path.exists():
            backup = _backup_name(path)
            if sidecar_path(path).exists():
                os.replace(sidecar_path(path), sidecar_path(backup))
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
