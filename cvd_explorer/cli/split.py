"""`cvd-explorer split DATA`: write (or reuse) the train/val/test manifest of a data folder."""

from __future__ import annotations

import argparse

from cvd_explorer.cli.scan import progress_printer
from cvd_explorer.data.scan import scan
from cvd_explorer.data.split import SPLITS, Manifest, ensure_manifest

NAME = "split"
HELP = "split a data folder into train/val/test (writes DATA/manifest.csv)"
ORDER = 20
DESCRIPTION = """\
Scan DATA (cached; see `cvd-explorer scan --help` for layouts and rejection reasons), then
split its accepted images, stratified by class, into train/val/test with the reference
study's proportions 17,000/4,000/4,000 of 25,000 (per class: val = test = 16%, rest train).
Unlabelled and rejected files are left out.

The split is deterministic for a given seed and file set. An existing manifest is reused
when its seed and files still match; otherwise a new one is written and the old file is
renamed to manifest.<timestamp>.csv.bak beside it (never overwritten).

Manifest format: a first line '# cvd-explorer manifest v1 seed=N layout=NAME classes=NEG,POS',
then 'path,label,split' rows sorted by path (paths relative to DATA).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `split`."""
    parser.add_argument("data", metavar="DATA", help="the data folder")
    parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    parser.add_argument(
        "--manifest",
        metavar="PATH",
        help="where the manifest lives (default DATA/manifest.csv; needed when DATA is read-only)",
    )
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes for the scan")


def table(manifest: Manifest) -> str:
    """Per-split, per-class counts as an aligned text table."""
    counts = manifest.counts()
    names = list(manifest.classes)
    width = max(7, *(len(n) + 2 for n in names))
    lines = ["split".ljust(7) + "".join(n.rjust(width) for n in names) + "total".rjust(9)]
    for split in SPLITS:
        row = counts[split]
        cells = "".join(f"{row[n]:>{width},}" for n in names)
        lines.append(split.ljust(7) + cells + f"{sum(row.values()):>9,}")
    totals = [sum(counts[s][n] for s in SPLITS) for n in names]
    lines.append("total".ljust(7) + "".join(f"{t:>{width},}" for t in totals) + f"{sum(totals):>9,}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Scan, ensure the manifest, print where it is and its counts."""
    result = scan(args.data, workers=args.workers, progress=progress_printer(True))
    manifest, reused = ensure_manifest(
        args.data, seed=args.seed, manifest_path=args.manifest, scan_result=result
    )
    state = "reused" if reused else "written"
    print(f"manifest {state}: {manifest.path} (seed {manifest.seed}, layout {manifest.layout}, "
          f"positive class {manifest.classes[1]!r}, sha256 {manifest.sha256[:12]})")
    if manifest.previous:
        print(f"the previous manifest did not match and was moved to {manifest.previous}")
    if result.rejected:
        print(f"{len(result.rejected)} rejected file(s) left out; see `cvd-explorer scan {args.data}`")
    print(table(manifest))
    return 0
