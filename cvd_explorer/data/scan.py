"""Validate every image of a data folder once, cache the verdicts, set bad files aside.

The scan decodes every candidate file once through :func:`~cvd_explorer.data.loader.decode_reduced`
(both labelled and unlabelled), in worker processes for large folders: the verdict is the one
:func:`~cvd_explorer.data.loader.load_image` gives, but a JPEG is decoded at 1/2 to 1/8 of its size
(every coefficient is still read and entropy-decoded; only the inverse DCT and colour conversion
run on fewer pixels), keeping at least 32 px a side for the thumbnail. Verdicts are cached per
data root in the user's cache folder (``$CVD_EXPLORER_CACHE``, else
``$XDG_CACHE_HOME/cvd-explorer``, else ``~/.cache/cvd-explorer``) keyed by absolute path, size,
``mtime_ns`` and ``max_pixels``, so a second scan of an unchanged folder decodes nothing.
Nothing is ever written inside the data folder, and no user file is deleted or rewritten.

Duplicates: right after decoding a labelled image, the worker computes its fingerprint
(:mod:`cvd_explorer.data.fingerprint`: a 32x32 grey thumbnail, its perceptual hash and a digest
of size and thumbnail), so finding copies costs no second decode of the data set. Images whose
size and thumbnail digest coincide, and images of the same size in one near group (a JPEG
reduced while decoding and a PNG of its pixels differ by a grey level in the thumbnail), are
the only candidates for ``exact``: for those alone a digest of every decoded byte is computed
(decoding them once more, fully; a full-pixel digest of every image would add a third of a
decode to the scan). Fingerprints and digests are cached
with the verdicts, and so are the groups found (:mod:`cvd_explorer.data.duplicates`), keyed by
every fingerprint; thumbnails are not cached (1 kB each): when the groups must be recomputed
after a change, only the cached images that form candidate pairs are decoded again.
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
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from cvd_explorer.data.duplicates import CONFIRM_P99, NEAR_HAMMING, DuplicateGroup, find_duplicates
from cvd_explorer.data.fingerprint import REDUCED_SIDE, THUMB_SIDE, Fingerprint, fingerprint, pixel_digest
from cvd_explorer.data.layout import detect_layout, is_skipped_dir
from cvd_explorer.data.loader import DEFAULT_MAX_PIXELS, ImageLoadError, decode_image, decode_reduced
from cvd_explorer.errors import DataError
from cvd_explorer.fileio import write_bytes as write_atomic

logger = logging.getLogger(__name__)

CACHE_VERSION = 3  # 2: fingerprints and duplicate groups; 3: thumbnails of reduced JPEG decodes, image size
"""Bump when the loader's verdicts or the fingerprints change, so old caches are ignored."""
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
        layout: Layout name (``kaggle``, ``petimages``, ``oxford-pet``, ``split-folders``, ``folders``).
        classes: K >= 2 class names in index order (with two, ``(negative, positive)``).
        accepted: ``(relative path, class)`` of good labelled images, sorted by path.
        unlabelled: Good images without a class, sorted.
        ignored: Files that are not images by name, sorted.
        rejected: Files the loader refused (labelled or not), sorted by path.
        duplicates: Groups of accepted images that are copies of one another, sorted by first path.
        decoded: How many files were decoded in this call (the rest came from the cache).
        class_mode: The Oxford-IIIT Pet layout's ``"breeds"`` or ``"species"``, else None.
    """

    root: Path
    layout: str
    classes: tuple[str, ...]
    accepted: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    decoded: int = field(default=0, compare=False)
    class_mode: str | None = None

    def counts(self) -> dict[str, int]:
        """Accepted images per class, every class present (possibly 0)."""
        counts = {name: 0 for name in self.classes}
        for _, label in self.accepted:
            counts[label] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """The machine-readable summary (the ``scan --json`` output)."""
        return {
            "layout": self.layout,
            "classes": self.counts(),
            "accepted": len(self.accepted),
            "ignored": len(self.ignored),
            "unlabelled": len(self.unlabelled),
            "rejected": [{"path": r.path, "reason": r.reason, "message": r.message} for r in self.rejected],
            "duplicates": [group.to_json() for group in self.duplicates],
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


Entry = list[Any]
"""A cache entry: ``[size, mtime_ns, max_pixels, reason, message, thumb key, phash hex, pixel digest, WxH/scale]``."""
_ENTRY_LEN = 9


@dataclass
class _Cache:
    entries: dict[str, Entry] = field(default_factory=dict)
    duplicates: dict[str, Any] = field(default_factory=dict)


def _load_cache(path: Path) -> _Cache:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _Cache()
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return _Cache()
    entries, duplicates = data.get("entries"), data.get("duplicates")
    return _Cache(entries if isinstance(entries, dict) else {}, duplicates if isinstance(duplicates, dict) else {})


def _save_cache(path: Path, root: Path, cache: _Cache) -> None:
    try:
        if path.resolve().is_relative_to(root.resolve()):
            logger.warning("cache folder %s is inside the data folder; not caching", path.parent)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": CACHE_VERSION, "root": str(root.resolve()), "entries": cache.entries,
            "duplicates": cache.duplicates,
        }
        write_atomic(path, json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    except OSError as exc:
        logger.warning("cannot write the scan cache %s: %s", path, exc)


class Checked(NamedTuple):
    """One decoded file: ``reason`` None for a good image; fingerprint fields when asked for.

    ``thumb`` is the 32x32 grey thumbnail's bytes (row-major uint8); ``size`` is the full image's
    ``"WxH/scale"`` (scale 1: decoded fully; 2, 4 or 8: a JPEG decoded reduced).
    """

    path: str
    reason: str | None
    message: str | None
    thumb_key: str | None = None
    phash: int | None = None
    thumb: bytes | None = None
    size: str | None = None


def fingerprint_file(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Fingerprint:
    """Decode a file as the scan does (a JPEG reduced) and fingerprint it.

    Raises:
        ImageLoadError: As :func:`~cvd_explorer.data.loader.decode_image` would.
    """
    return _fingerprint_file(path, max_pixels)[0]


def _fingerprint_file(path: str | os.PathLike[str], max_pixels: int) -> tuple[Fingerprint, int]:
    reduced = decode_reduced(path, REDUCED_SIDE, max_pixels)
    if reduced.scale == 1:
        return fingerprint(reduced.image), 1
    return fingerprint(reduced.image, reduced.size, reduced.box), reduced.scale


def check_files(paths: list[str], max_pixels: int, fingerprints: bool = False) -> list[Checked]:
    """Decode each file once; with ``fingerprints``, fingerprint each good image on that decode."""
    out: list[Checked] = []
    for path in paths:
        try:
            if not fingerprints:
                decode_reduced(path, REDUCED_SIDE, max_pixels)
                out.append(Checked(path, None, None))
                continue
            fp, scale = _fingerprint_file(path, max_pixels)
        except ImageLoadError as exc:
            out.append(Checked(path, exc.reason, exc.message))
            continue
        size = f"{fp.size[0]}x{fp.size[1]}/{scale}"
        out.append(Checked(path, None, None, fp.thumb_key, fp.phash, fp.thumb.tobytes(), size))
    return out


def _chunks(items: list[str], workers: int) -> list[list[str]]:
    # At most 64 files a chunk: the last chunks leave workers idle for at most 64 decodes.
    size = max(16, min(64, -(-len(items) // (workers * 8))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _decode_all(
    jobs: list[tuple[str, bool]], max_pixels: int, workers: int, progress: Progress | None
) -> list[Checked]:
    """Check ``(path, fingerprint?)`` jobs, in worker processes when there are many."""
    total = len(jobs)
    wanted = {path for path, fp in jobs if fp}
    batches = [
        (chunk, fp)
        for fp in (True, False)
        for chunk in _chunks([p for p, f in jobs if f == fp], 1 if total < SMALL_JOB or workers <= 1 else workers)
    ]
    results: list[Checked] = []
    if total < SMALL_JOB or workers <= 1:
        for chunk, fp in batches:
            results.extend(check_files(chunk, max_pixels, fp))
            if progress:
                progress(len(results), total)
        return results
    # Forking a process that already runs TensorFlow's threads can deadlock, and spawning
    # re-imports the caller's script: inside a TensorFlow process, decode on threads instead
    # (Pillow releases the GIL while it decodes, so both cores still work).
    pool: cf.Executor
    if "tensorflow" in sys.modules:
        pool = cf.ThreadPoolExecutor(max_workers=workers)
    else:
        pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    try:
        with pool:
            futures = [pool.submit(check_files, chunk, max_pixels, fp) for chunk, fp in batches]
            for future in cf.as_completed(futures):
                results.extend(future.result())
                if progress:
                    progress(len(results), total)
    except (cf.process.BrokenProcessPool, OSError) as exc:
        logger.warning("worker processes failed (%s); checking the remaining files in-process", exc)
        done = {r.path for r in results}
        for path, _ in jobs:
            if path not in done:
                results.extend(check_files([path], max_pixels, path in wanted))
                if progress and (len(results) % 256 == 0 or len(results) == total):
                    progress(len(results), total)
    return results


def _duplicates_key(prints: list[tuple[str, str, int]]) -> str:
    digest = hashlib.sha256(f"{NEAR_HAMMING} {CONFIRM_P99}".encode())
    for rel, key, phash in prints:
        digest.update(f"\n{rel}\t{key}\t{phash:016x}".encode())
    return digest.hexdigest()


def _thumb_reader(root: Path, fresh: dict[str, bytes], max_pixels: int) -> Callable[[str], NDArray[np.uint8] | None]:
    """Thumbnails by relative path: from this scan's decode, else decoded again (cached images)."""
    decoded: dict[str, NDArray[np.uint8] | None] = {}

    def thumb_of(rel: str) -> NDArray[np.uint8] | None:
        data = fresh.get(rel)
        if data is not None:
            return np.frombuffer(data, np.uint8).reshape(THUMB_SIDE, THUMB_SIDE)
        if rel not in decoded:
            try:
                decoded[rel] = fingerprint_file(root / rel, max_pixels).thumb
            except ImageLoadError as exc:
                logger.warning("%s: cannot compare it with a possible copy: %s", rel, exc.message)
                decoded[rel] = None
        return decoded[rel]

    return thumb_of


def scan(
    root: str | os.PathLike[str],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    cache: bool = True,
    progress: Progress | None = None,
    classes: str | None = None,
) -> ScanResult:
    """Detect the layout of ``root``, decode every candidate image once, group duplicates.

    Args:
        root: Data folder (see :mod:`cvd_explorer.data.layout` for the layouts).
        max_pixels: Images with more pixels are rejected as ``too-large``.
        workers: Worker processes (default ``os.cpu_count()``); small jobs run in-process.
        cache: Read and update the per-root verdict cache.
        progress: Optional ``progress(done, total)`` callback.
        classes: Oxford-IIIT Pet layout only: ``"breeds"`` (default) or ``"species"``.

    Returns:
        The :class:`ScanResult`; rejected files stay where they are (see :func:`quarantine`).

    Raises:
        DataError: ``root`` is missing, not a folder, or holds no labelled image (see
            :func:`~cvd_explorer.data.layout.detect_layout`).
    """
    root = Path(root)
    layout = detect_layout(root, classes=classes)
    labels = dict(layout.labelled)
    relpaths = sorted([*labels, *layout.unlabelled])
    cache_path = cache_file(root)
    cached = _load_cache(cache_path) if cache else _Cache()
    where = {rel: str((root / rel).absolute()) for rel in relpaths}  # the cache's keys

    verdicts: dict[str, Entry] = {}  # absolute path -> [reason, message, thumb key, phash hex, pixel digest, WxH/scale]
    keys: dict[str, list[Any]] = {}
    todo: list[tuple[str, bool]] = []
    for rel, absolute in where.items():
        wants_print = rel in labels
        try:
            st = os.stat(absolute)
            keys[absolute] = [st.st_size, st.st_mtime_ns, max_pixels]
        except OSError:
            todo.append((absolute, wants_print))
            continue
        entry = cached.entries.get(absolute)
        usable = entry and len(entry) == _ENTRY_LEN and entry[:3] == keys[absolute]
        if usable and entry and (entry[3] is not None or not wants_print or entry[5] is not None):
            verdicts[absolute] = entry[3:]
        else:
            todo.append((absolute, wants_print))

    fresh: dict[str, bytes] = {}
    for checked in _decode_all(todo, max_pixels, workers or os.cpu_count() or 1, progress):
        phash = None if checked.phash is None else f"{checked.phash:016x}"
        verdicts[checked.path] = [checked.reason, checked.message, checked.thumb_key, phash, None, checked.size]
        if checked.thumb is not None:
            fresh[checked.path] = checked.thumb

    result = ScanResult(root=root, layout=layout.name, classes=layout.classes, ignored=list(layout.ignored),
                        class_mode=layout.class_mode)
    result.decoded = len(todo)
    _pixel_digests([where[rel] for rel in labels], verdicts, max_pixels)
    prints: list[tuple[str, str, int]] = []
    thumbs: dict[str, bytes] = {}
    for rel, absolute in where.items():
        reason, message, _, phash, _, _ = verdicts[absolute]
        if reason is not None:
            result.rejected.append(Rejection(rel, reason, message or ""))
        elif rel in labels:
            result.accepted.append((rel, labels[rel]))
            prints.append((rel, _key_of(verdicts[absolute]), int(str(phash), 16)))
            if absolute in fresh:
                thumbs[rel] = fresh[absolute]
        else:
            result.unlabelled.append(rel)
    new_cache = _Cache()
    result.duplicates = _groups(
        where, prints, _thumb_reader(root, thumbs, max_pixels), verdicts, max_pixels, cached, new_cache
    )
    for absolute, key in keys.items():
        if verdicts[absolute][0] != "unreadable":  # permissions change without mtime
            new_cache.entries[absolute] = [*key, *verdicts[absolute]]
    if cache:
        _save_cache(cache_path, root, new_cache)
    return result


def _key_of(verdict: Entry) -> str:
    """The pixel key of an accepted image: its full-pixel digest if computed, else its thumbnail key."""
    return str(verdict[4] or verdict[2])


def _digest(absolute: str, verdict: Entry, max_pixels: int) -> None:
    """Fill in ``verdict``'s full-pixel digest (a full decode) unless it is there."""
    if verdict[4] is not None:
        return
    try:
        verdict[4] = pixel_digest(decode_image(absolute, max_pixels=max_pixels))
    except ImageLoadError as exc:  # changed since it was decoded: keep the thumbnail key
        logger.warning("%s: cannot compare its pixels with a look-alike: %s", absolute, exc.message)


def _pixel_digests(labelled: list[str], verdicts: dict[str, Entry], max_pixels: int) -> None:
    """Fill in the full-pixel digest of every accepted image (absolute path) whose thumbnail digest is shared."""
    by_key: dict[str, list[str]] = {}
    for absolute in labelled:
        reason, _, key, _, _, _ = verdicts[absolute]
        if reason is None and key is not None:
            by_key.setdefault(key, []).append(absolute)
    for members in by_key.values():
        if len(members) < 2:
            continue
        for absolute in members:
            _digest(absolute, verdicts[absolute], max_pixels)


def _digest_near_copies(
    where: dict[str, str], groups: list[DuplicateGroup], verdicts: dict[str, Entry], max_pixels: int
) -> bool:
    """Digest near copies of one size decoded at different scales; True when two have the same pixels.

    A JPEG reduced while decoding and a PNG of its decoded pixels get thumbnails a grey level
    apart, hence different thumbnail keys: only the full-pixel digest can call them ``exact``.
    (Images decoded at the same scale with the same pixels share their thumbnail key already.)
    """
    found = False
    for group in groups:
        if group.kind != "near":
            continue
        by_size: dict[str, list[str]] = {}
        for rel in group.paths:
            size, _, _ = str(verdicts[where[rel]][5]).partition("/")
            by_size.setdefault(size, []).append(where[rel])
        for members in by_size.values():
            if len({verdicts[a][5] for a in members}) < 2:  # one scale (or one image)
                continue
            before = {_key_of(verdicts[a]) for a in members}
            for absolute in members:
                _digest(absolute, verdicts[absolute], max_pixels)
            found = found or len({_key_of(verdicts[a]) for a in members}) < len(before)
    return found


def _groups(
    where: dict[str, str], prints: list[tuple[str, str, int]], thumb_of: Callable[[str], NDArray[np.uint8] | None],
    verdicts: dict[str, Entry], max_pixels: int, cached: _Cache, new_cache: _Cache,
) -> list[DuplicateGroup]:
    """The duplicate groups of the accepted images: from the cache when no fingerprint changed.

    Pixel digests found for same-size near copies go into ``verdicts`` (and so into the cache).
    """
    key = _duplicates_key(prints)
    if cached.duplicates.get("key") == key:
        try:
            groups = [DuplicateGroup.from_json(g) for g in cached.duplicates.get("groups", [])]
        except (KeyError, TypeError, ValueError):
            groups = None
        if groups is not None:
            new_cache.duplicates = cached.duplicates
            return groups
    groups = find_duplicates(prints, thumb_of)
    if _digest_near_copies(where, groups, verdicts, max_pixels):
        prints = [(rel, _key_of(verdicts[where[rel]]), phash) for rel, _, phash in prints]
        key = _duplicates_key(prints)
        groups = find_duplicates(prints, thumb_of)
    new_cache.duplicates = {"key": key, "groups": [g.to_json() for g in groups]}
    return groups


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
    for entry, rejection in zip(report["rejected"], result.rejected, strict=True):
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
