"""`cvd-explorer scan DATA`: check every image of a data folder, optionally set bad ones aside."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections import defaultdict
from typing import Any

from cvd_explorer.data.layout import IMAGE_EXTENSIONS, OXFORD_CLASSES
from cvd_explorer.data.loader import DEFAULT_MAX_PIXELS, REASONS
from cvd_explorer.data.scan import Progress, ScanResult, quarantine, scan

NAME = "scan"
HELP = "check every image of a data folder (layout, classes, unreadable files)"
ORDER = 10
SHOWN_PER_REASON = 5

_files = textwrap.fill(
    f"Files named {' '.join(sorted(IMAGE_EXTENSIONS))} or without extension are checked; "
    "others (Thumbs.db, *.txt, ...) are ignored.",
    90,
)
_reasons = "\n".join(f"  {code:<12} {text}" for code, text in REASONS.items())
DESCRIPTION = f"""\
Detect the layout of DATA, decode every image once and report what cannot be used.
Nothing is deleted or modified; --quarantine moves rejected files out of the way.

Layouts (tried in this order):
  petimages    DATA/Cat/*.jpg and DATA/Dog/*.jpg (or DATA/PetImages/Cat, .../Dog)
  oxford-pet   Oxford-IIIT Pet: DATA/images/<Breed_Name>_<n>.jpg beside DATA/annotations/;
               the class is the name without _<n>: 37 breeds (capitalised: cats, lower
               case: dogs); --classes species makes it cat vs dog
  kaggle       files named cat.<n>.jpg / dog.<n>.jpg anywhere (e.g. DATA/train/);
               other images (e.g. DATA/test1/1.jpg) are counted as unlabelled
  split-folders  DATA/train/<class>/, DATA/validation/<class>/, ... merged per class
  folders      one folder of images per class, two or more, e.g. DATA/cats/, DATA/dogs/
               (or inside one wrapper folder)

Class order: the class names sorted as text, never as numbers (folders 0..10 give
0, 1, 10, 2, ..., 9). With two classes the first is the negative, the second the positive.

{_files}
Folders starting with '.' or '_' are skipped.
Accepted formats, judged by content: JPEG, PNG, BMP, GIF.

Rejection reasons:
{_reasons}

Duplicates among the accepted images are grouped: exact (same decoded pixels) and near (the
same photo re-encoded, resized or recompressed: perceptual hash, confirmed on 32x32 thumbnails).

Results are cached per folder (set CVD_EXPLORER_CACHE to move the cache), so scanning an
unchanged folder again is quick. Exit status 0 even when files are rejected; 2 when DATA
does not exist or holds no labelled image.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `scan`."""
    parser.add_argument("data", metavar="DATA", help="the data folder")
    parser.add_argument(
        "--quarantine",
        metavar="DIR",
        help="move rejected files to DIR/<relative path> (never overwriting) and write "
        "DIR/scan_report.json; DIR must be outside DATA or start with '_' (e.g. DATA/_quarantine)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"reject images with more than N pixels as too-large (default {DEFAULT_MAX_PIXELS:,})",
    )
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes (default: all cores)")
    parser.add_argument("--no-cache", action="store_true", help="decode every file, ignore the cache")
    add_classes_argument(parser)


def add_classes_argument(parser: argparse.ArgumentParser) -> None:
    """``--classes breeds|species`` (Oxford-IIIT Pet layout only), shared by `scan` and `split`."""
    parser.add_argument(
        "--classes", choices=OXFORD_CLASSES, default=None,
        help="Oxford-IIIT Pet layout: the 37 breeds (default) or the species cat vs dog",
    )


def scan_json(result: ScanResult) -> dict[str, Any]:
    """The ``scan --json`` object: :meth:`ScanResult.to_json` plus ``class_names`` in index order."""
    data = result.to_json()
    out: dict[str, Any] = {}
    for key, value in data.items():
        out[key] = value
        if key == "classes":
            out["class_names"] = list(result.classes)
            if result.class_mode is not None:
                out["class_mode"] = result.class_mode
    return out


def progress_printer(enabled: bool) -> Progress | None:
    """A ``progress(done, total)`` callback writing to stderr, or None when not a TTY."""
    if not enabled or not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rchecked {done:,}/{total:,} files", end=end, file=sys.stderr, flush=True)

    return progress


def summary(result: ScanResult) -> str:
    """Short human summary of a scan."""
    counts = ", ".join(f"{name} {n:,}" for name, n in result.counts().items())
    mode = f" ({result.class_mode})" if result.class_mode is not None else ""
    if len(result.classes) == 2:
        named = f"classes (negative, positive) = {result.classes}{mode}"
    else:
        named = f"{len(result.classes)} classes{mode} in index order: {', '.join(result.classes)}"
    lines = [
        f"{result.root}: layout {result.layout}, {named}",
        f"accepted {len(result.accepted):,} ({counts})",
        f"unlabelled {len(result.unlabelled):,}, ignored {len(result.ignored):,} (not images by name)",
        f"rejected {len(result.rejected):,}",
    ]
    grouped: dict[str, list[str]] = defaultdict(list)
    for rejection in result.rejected:
        grouped[rejection.reason].append(rejection.path)
    for reason, paths in sorted(grouped.items()):
        lines.append(f"  {reason} ({len(paths)}): {REASONS[reason]}")
        lines.extend(f"    {p}" for p in paths[:SHOWN_PER_REASON])
        if len(paths) > SHOWN_PER_REASON:
            lines.append(f"    ... and {len(paths) - SHOWN_PER_REASON} more")
    groups = result.duplicates
    if groups:
        exact = sum(1 for g in groups if g.kind == "exact")
        images = sum(len(g.paths) for g in groups)
        lines.append(f"duplicates {len(groups):,} group(s) of {images:,} images ({exact} exact, "
                     f"{len(groups) - exact} near; `split` keeps each group inside one split)")
        for group in groups[:SHOWN_PER_REASON]:
            lines.append(f"  {group.kind} ({group.similarity:.3f}): {', '.join(group.paths)}")
        if len(groups) > SHOWN_PER_REASON:
            lines.append(f"  ... and {len(groups) - SHOWN_PER_REASON} more (--json lists them all)")
    else:
        lines.append("duplicates 0")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Scan, print, optionally quarantine."""
    result = scan(
        args.data,
        max_pixels=args.max_pixels,
        workers=args.workers,
        cache=not args.no_cache,
        progress=progress_printer(True),
        classes=args.classes,
    )
    report = quarantine(result, args.quarantine) if args.quarantine and result.rejected else None
    if args.json:
        print(json.dumps(scan_json(result)))
        if report:
            print(f"moved {len(result.rejected)} rejected file(s); report: {report}", file=sys.stderr)
        return 0
    print(summary(result))
    if report:
        print(f"moved {len(result.rejected)} rejected file(s) to {report.parent}; report: {report}")
    elif result.rejected:
        print("rejected files are left in place; --quarantine DIR moves them out of the way")
    return 0
