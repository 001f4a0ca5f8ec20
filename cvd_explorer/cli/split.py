"""`cvd-explorer split DATA`: write (or reuse) the train/val/test manifest of a data folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from cvd_explorer.cli.scan import add_classes_argument, progress_printer
from cvd_explorer.data.leakage import leakage
from cvd_explorer.data.scan import scan
from cvd_explorer.data.split import (
    MANIFEST_NAME,
    SPLITS,
    Manifest,
    ensure_manifest,
    recorded_class_mode,
    sidecar_path,
)

NAME = "split"
HELP = "split a data folder into train/val/test (writes DATA/manifest.csv)"
ORDER = 20
DESCRIPTION = """\
Scan DATA (cached; see `cvd-explorer scan --help` for layouts and rejection reasons), then
split its accepted images, stratified by class (each of the K classes on its own), into
train/val/test with the reference
study's proportions 17,000/4,000/4,000 of 25,000 (per class: val = test = 16%, rest train).
Unlabelled and rejected files are left out. Duplicate groups found by the scan (the same
photo copied, re-encoded or resized) are kept together, each inside one split, so that no test
image has a copy in train or validation.

The split is deterministic for a given seed and file set. An existing manifest is reused
when its seed and files still match; otherwise a new one is written and the old file is
renamed to manifest.<timestamp>.csv.bak beside it (never overwritten). A manifest written
before duplicates were grouped is reused as it is, and the images it leaks are reported;
--regroup replaces it.

--exclude VERDICTS.csv applies the Atlas panel's triage verdicts (columns path,verdict) to the
manifest and writes a cleaned one for the next training (default: manifest.cleaned.csv beside
the manifest; --out PATH): "not a cat or dog" images are left out, "label wrong" ones get the
other class, "model wrong" ones stay. No image is touched. Train on it with
`cvd-explorer train --data DATA --manifest DATA/manifest.cleaned.csv`.

Oxford-IIIT Pet: --classes species splits cat vs dog (the binary task), the default breeds
the 37 breeds; without --classes an existing manifest keeps its choice.

Manifest format: a plain CSV 'path,label,split,group', rows sorted by path (paths relative to
DATA; group empty for an image without copies), and beside it manifest.json with the seed,
layout, classes (in index order), counts and the CSV's sha256.
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
    parser.add_argument(
        "--regroup", action="store_true",
        help="replace a matching manifest that leaves duplicate groups split (the old one is kept as .bak)",
    )
    parser.add_argument("--exclude", metavar="VERDICTS.csv",
                        help="write a cleaned manifest from triage verdicts (the Atlas panel's export)")
    parser.add_argument("--out", metavar="PATH", help="with --exclude: where the cleaned manifest goes")
    add_classes_argument(parser)


def table(manifest: Manifest) -> str:
    """Per-split, per-class counts as an aligned text table (K > 2 classes: one row per class)."""
    counts = manifest.counts()
    names = list(manifest.classes)
    if len(names) > 2:
        return class_rows(counts, names)
    width = max(7, *(len(n) + 2 for n in names))
    lines = ["split".ljust(7) + "".join(n.rjust(width) for n in names) + "total".rjust(9)]
    for split in SPLITS:
        row = counts[split]
        cells = "".join(f"{row[n]:>{width},}" for n in names)
        lines.append(split.ljust(7) + cells + f"{sum(row.values()):>9,}")
    totals = [sum(counts[s][n] for s in SPLITS) for n in names]
    lines.append("total".ljust(7) + "".join(f"{t:>{width},}" for t in totals) + f"{sum(totals):>9,}")
    return "\n".join(lines)


def class_rows(counts: dict[str, dict[str, int]], names: list[str]) -> str:
    """One row per class (in index order) with its train/val/test/total counts, then the totals."""
    width = max(7, *(len(n) + 2 for n in names))
    lines = ["class".ljust(width) + "".join(s.rjust(9) for s in (*SPLITS, "total"))]
    for name in [*names, "total"]:
        cells = [counts[s][name] if name != "total" else sum(counts[s].values()) for s in SPLITS]
        lines.append(name.ljust(width) + "".join(f"{n:>9,}" for n in (*cells, sum(cells))))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Scan, ensure the manifest, print where it is and its counts."""
    path = Path(args.manifest) if args.manifest else Path(args.data) / MANIFEST_NAME
    classes = args.classes or recorded_class_mode(path)
    result = scan(args.data, workers=args.workers, progress=progress_printer(True), classes=classes)
    manifest, reused = ensure_manifest(
        args.data, seed=args.seed, manifest_path=args.manifest, scan_result=result, regroup=args.regroup
    )
    state = "reused" if reused else "written"
    if len(manifest.classes) == 2:
        named = f"positive class {manifest.classes[1]!r}"
    else:
        named = f"{len(manifest.classes)} classes"
    if manifest.class_mode is not None:
        named += f", {manifest.class_mode}"
    print(f"manifest {state}: {manifest.path} (seed {manifest.seed}, layout {manifest.layout}, "
          f"{named}, sha256 {manifest.sha256[:12]})")
    if manifest.previous:
        print(f"the previous manifest did not match and was moved to {manifest.previous}")
    grouped = sum(1 for row in manifest.rows if row.group)
    if manifest.group_count:
        print(f"kept {manifest.group_count} duplicate group(s) ({grouped} images) together, each inside one split")
    leak = leakage(manifest, result.duplicates)
    if leak.leaking:
        form = "written before duplicates were grouped" if manifest.version == 1 else "not grouped like the scan"
        print(
            f"warning: this manifest ({form}) leaks: {leak.test_images_with_copy_elsewhere} test image(s) have a "
            f"copy in train or val, {leak.val_images_with_copy_in_train} val image(s) a copy in train "
            f"({len(leak.groups_across_splits)} group(s) span splits; `cvd-explorer scan {args.data} --json` lists "
            f"the duplicates). It is left as it is; `cvd-explorer split {args.data} --regroup` writes a split that "
            "keeps them together (the old file is kept as .bak)."
        )
    elif manifest.version >= 2 and manifest.path is not None:
        print(f"metadata: {sidecar_path(manifest.path)}")
    if result.rejected:
        print(f"{len(result.rejected)} rejected file(s) left out; see `cvd-explorer scan {args.data}`")
    if args.exclude:
        manifest = write_cleaned(manifest, args.exclude, args.out)
    elif args.out:
        print("warning: --out is used with --exclude only; nothing else was written")
    print(table(manifest))
    return 0


def write_cleaned(manifest: Manifest, verdicts_csv: str, out: str | None) -> Manifest:
    """Apply the verdicts, write the cleaned manifest (an existing file there is kept as .bak), report."""
    from cvd_explorer.data.clean import CLEANED_NAME, clean_manifest
    from cvd_explorer.data.split import backup_existing, write_manifest
    from cvd_explorer.verdicts import read_verdicts

    verdicts = read_verdicts(verdicts_csv)
    cleaned, report = clean_manifest(manifest, verdicts, source=Path(verdicts_csv).name)
    base = manifest.path.parent if manifest.path is not None else Path(".")
    target = Path(out) if out else base / CLEANED_NAME
    moved = backup_existing(target)
    write_manifest(cleaned, target)
    print(f"cleaned manifest: {target}: {report.describe()}")
    if moved is not None:
        print(f"the earlier {target.name} was moved to {moved}")
    print(f"train on it with: cvd-explorer train --data DATA --manifest {target}")
    return cleaned
