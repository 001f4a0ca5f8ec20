"""Validate every image of a data folder once, cache the verdicts, set bad files aside.

The scan decodes every candidate file fully through :func:`~cvd_explorer.data.loader.load_image`
(both labelled and unlabelled), in worker processes for large folders. Verdicts are cached per
data root in the user's cache folder (``$CVD_EXPLORER_CACHE``, else
``$XDG_CACHE_HOME/cvd-explorer``, else ``~/.cache/cvd-explorer``) keyed by absolute path, size,
``mtime_ns`` and ``max_pixels``, so a second scan of an unchanged folder decodes nothing.
Nothing is ever written inside the data folder, and no user file is deleted or rewritten.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cvd_explorer.atomic import write_bytes as write_atomic
from cvd_explorer.data.layout import detect_layout, is_skipped_dir
from cvd_explorer.data.loader import DEFAULT_MAX_PIXELS, ImageLoadError, load_image
from cvd_explorer.errors import DataError

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
"""Bump when the loader's verdicts change, so old caches are ignored."""
SMALL_JOB = 64
"""Fewer files than this are decoded in-process (no worker start-up)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called in the calling process as files are checked."""


@dataclass(frozen=True)
class Rejection:
    """A file the loader refused: relative posix ``path``, ``reason`` code and ``message``."""

    path: str
    reason: str
    message: str


@dataclass
class ScanResult:
    """Outcome of :func:`scan`.

    Attributes:
        root: The data folder.
        layout: Layout name (``kaggle``, ``petimages``, ``folders``).
        classes: ``(negative, positive)`` class names.
        accepted: ``(relative path, class)`` of good labelled images, sorted by path.
        unlabelled: Good images without a class, sorted.
        ignored: Files that are not images by name, sorted.
        rejected: Files the loader refused (labelled or not), sorted by path.
        decoded: How many files were decoded in this call (the rest came from the cache).
    """

    root: Path
    layout: str
    classes: tuple[str, str]
    accepted: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    decoded: int = field(default=0, compare=False)

    def counts(self) -> dict[str, int]:
        """Accepted images per class, every class present (possibly 0)."""
        counts = {name: 0 for name in self.classes}
        for _, label in self.accepted:
            counts[label] += 1
        return counts

    def to_json(self) -> dict:
        """The machine-readable summary (the ``scan --json`` output)."""
        return {
            "layout": self.layout,
            "classes": self.counts(),
            "accepted": len(self.accepted),
            "ignored": len(self.ignored),
            "unlabelled": len(self.unlabelled),
            "rejected": [{"path": r.path, "reason": r.reason, "message": r.message} for r in self.rejected],
        }


def cache_dir() -> Path:
    """The folder holding scan caches (not created here)."""
    override = os.environ.get("CVD_EXPLORER_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cvd-explorer"


def cache_file(root: Path) -> Path:
    """The cache file of one data root (hash of its absolute path in the name)."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / f"scan-{digest}.json"


def _load_cache(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save_cache(path: Path, root: Path, entries: dict[str, list]) -> None:
    try:
        if path.resolve().is_relative_to(root.resolve()):
            logger.warning("cache folder %s is inside the data folder; not caching", path.parent)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": CACHE_VERSION, "root": str(root.resolve()), "entries": entries}
        write_atomic(path, json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    except OSError as exc:
        logger.warning("cannot write the scan cache %s: %s", path, exc)


def check_files(paths: list[str], max_pixels: int) -> list[tuple[str, str | None, str | None]]:
    """Decode each file; ``(path, reason, message)`` with ``reason None`` for a good image."""
    out: list[tuple[str, str | None, str | None]] = []
    for path in paths:
        try:
            load_image(path, max_pixels=max_pixels)
        except ImageLoadError as exc:
            out.append((path, exc.reason, exc.message))
        else:
            out.append((path, None, None))
    return out


def _chunks(items: list[str], workers: int) -> list[list[str]]:
    size = max(16, min(256, -(-len(items) // (workers * 8))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _decode_all(
    paths: list[str], max_pixels: int, workers: int, progress: Progress | None
) -> list[tuple[str, str | None, str | None]]:
    total = len(paths)
    if total < SMALL_JOB or workers <= 1:
        results = []
        for chunk in _chunks(paths, 1):
            results.extend(check_files(chunk, max_pixels))
            if progress:
                progress(len(results), total)
        return results
    # Forking a process that already runs TensorFlow's threads can deadlock, and spawning
    # re-imports the caller's script: inside a TensorFlow process, decode on threads instead
    # (Pillow releases the GIL while it decodes, so both cores still work).
    if "tensorflow" in sys.modules:
        pool_factory = lambda: cf.ThreadPoolExecutor(max_workers=workers)  # noqa: E731
    else:
        pool_factory = lambda: cf.ProcessPoolExecutor(  # noqa: E731
            max_workers=workers, mp_context=multiprocessing.get_context("fork")
        )
    results: list[tuple[str, str | None, str | None]] = []
    try:
        with pool_factory() as pool:
            futures = [pool.submit(check_files, chunk, max_pixels) for chunk in _chunks(paths, workers)]
            for future in cf.as_completed(futures):
                results.extend(future.result())
                if progress:
                    progress(len(results), total)
    except (cf.process.BrokenProcessPool, OSError) as exc:
        logger.warning("worker processes failed (%s); checking the remaining files in-process", exc)
        done = {r[0] for r in results}
        for path in paths:
            if path not in done:
                results.extend(check_files([path], max_pixels))
                if progress and (len(results) % 256 == 0 or len(results) == total):
                    progress(len(results), total)
    return results


def scan(
    root: str | os.PathLike[str],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    cache: bool = True,
    progress: Progress | None = None,
) -> ScanResult:
    """Detect the layout of ``root`` and decode every candidate image once.

    Args:
        root: Data folder (see :mod:`cvd_explorer.data.layout` for the layouts).
        max_pixels: Images with more pixels are rejected as ``too-large``.
        workers: Worker processes (default ``os.cpu_count()``); small jobs run in-process.
        cache: Read and update the per-root verdict cache.
        progress: Optional ``progress(done, total)`` callback.

    Returns:
        The :class:`ScanResult`; rejected files stay where they are (see :func:`quarantine`).

    Raises:
        DataError: ``root`` is missing, not a folder, or holds no labelled image.
    """
    root = Path(root)
    layout = detect_layout(root)
    labels = dict(layout.labelled)
    relpaths = sorted([*labels, *layout.unlabelled])
    cache_path = cache_file(root)
    cached = _load_cache(cache_path) if cache else {}

    verdicts: dict[str, tuple[str | None, str | None]] = {}
    keys: dict[str, list] = {}
    todo: list[str] = []
    for rel in relpaths:
        absolute = str((root / rel).absolute())
        try:
            st = os.stat(absolute)
            keys[absolute] = [st.st_size, st.st_mtime_ns, max_pixels]
        except OSError:
            todo.append(absolute)
            continue
        entry = cached.get(absolute)
        if entry and entry[:3] == keys[absolute]:
            verdicts[absolute] = (entry[3], entry[4])
        else:
            todo.append(absolute)

    for absolute, reason, message in _decode_all(todo, max_pixels, workers or os.cpu_count() or 1, progress):
        verdicts[absolute] = (reason, message)

    result = ScanResult(root=root, layout=layout.name, classes=layout.classes, ignored=list(layout.ignored))
    result.decoded = len(todo)
    new_cache: dict[str, list] = {}
    for rel in relpaths:
        absolute = str((root / rel).absolute())
        reason, message = verdicts[absolute]
        if absolute in keys and reason != "unreadable":  # permissions change without mtime
            new_cache[absolute] = [*keys[absolute], reason, message]
        if reason is not None:
            result.rejected.append(Rejection(rel, reason, message or ""))
        elif rel in labels:
            result.accepted.append((rel, labels[rel]))
        else:
            result.unlabelled.append(rel)
    if cache:
        _save_cache(cache_path, root, new_cache)
    return result


def _free_name(target: Path) -> Path:
    """``target`` or, when it exists, ``name.1.ext``, ``name.2.ext``, ..."""
    candidate, n = target, 0
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
    return candidate


def quarantine(result: ScanResult, dest: str | os.PathLike[str]) -> Path:
    """Move the rejected files of a scan to ``dest/<relative path>`` and write a report.

    Files are moved, never deleted or overwritten (an existing target gets a ``.1``, ``.2``
    suffix). ``dest`` must lie outside the data folder or in a folder the scan skips
    (e.g. ``DATA/_quarantine``).

    Args:
        result: The scan whose ``rejected`` files to move.
        dest: Destination folder (created).

    Returns:
        Path of the report ``dest/scan_report.json``: ``to_json()`` plus ``root`` and, per
        rejected file, ``moved_to`` (path relative to ``dest``, ``null`` if it was gone).

    Raises:
        DataError: ``dest`` is the data folder or inside a scanned part of it.
    """
    root = result.root.resolve()
    dest = Path(dest)
    dest_abs = dest.resolve()
    if dest_abs == root:
        raise DataError(f"{dest}: the quarantine folder cannot be the data folder itself")
    if dest_abs.is_relative_to(root):
        first = dest_abs.relative_to(root).parts[0]
        if not is_skipped_dir(first):
            raise DataError(
                f"{dest}: the quarantine folder is inside the scanned data; use a folder outside "
                f"{result.root} or one whose name starts with '_' (e.g. {result.root / '_quarantine'})"
            )
    dest.mkdir(parents=True, exist_ok=True)
    report = result.to_json()
    report["root"] = str(root)
    for entry, rejection in zip(report["rejected"], result.rejected):
        source = root / rejection.path
        if not (source.exists() or source.is_symlink()):
            entry["moved_to"] = None
            continue
        target = _free_name(dest / rejection.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        entry["moved_to"] = target.relative_to(dest).as_posix()
    report["quarantined_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    report_path = _free_name(dest / "scan_report.json")
    write_atomic(report_path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    return report_path
