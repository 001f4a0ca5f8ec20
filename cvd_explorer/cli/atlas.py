"""`cvd-explorer atlas RUN`: explain a whole split at once and write RUN/atlas/<split>-<method>/."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

NAME = "atlas"
HELP = "explain every image of a split at once: depth curves, suspected label errors, an embedding map"
ORDER = 35
USES_TENSORFLOW = True
DESCRIPTION = """\
One streamed pass over a split of RUN with the explain engine (every conv layer from one
forward and one backward pass per batch), written to RUN/atlas/<split>-<method>/:
per image the prediction, pooled features, a 2-D UMAP embedding (seeded: a picture, not a
metric), the deepest layer's map and, per conv layer, statistics of its map (agreement with the
deepest layer, concentration, centroid and, with masks, mass inside the mask and the pointing
game); per split the depth curves (correct vs misclassified, per class, with 95% intervals),
suspected label errors (cleanlab, on out-of-sample test predictions, with the suggested class),
the confusion matrix, mean maps per block output, leakage (test images with a copy in another
split), underperforming slices (clusters of the pooled features whose error rate is well above
the overall rate: Wilson interval, binomial test, Benjamini-Hochberg q-value) and data issues
(outliers, near-duplicates, non-IID). Any number of classes; the maps explain each image's
predicted class.

--similar PATH prints the k images nearest to PATH on the pooled features (cosine) instead of
the summary; with --split train and a test image, "which training images look like this one".

The atlas is tied to the run's model (sha256) and manifest: a stale atlas is recomputed, a
current one is reused, and an interrupted one continues where it stopped.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `atlas`."""
    parser.add_argument("run_dir", metavar="RUN", help="run directory")
    parser.add_argument("--split", default="test", choices=("test", "val", "train"),
                        help="split to explain (default: test, whose predictions are out of sample)")
    parser.add_argument("--method", default=None, metavar="NAME", help="CAM method (default: gradcam)")
    parser.add_argument("--masks", metavar="DIR",
                        help="PNG object masks at the images' relative paths (default: DATA/_masks when present)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N", help="images per pass (default 8)")
    parser.add_argument("--data-root", metavar="DIR", help="where the images are, if they moved")
    parser.add_argument("--force", action="store_true", help="recompute even when a current atlas exists")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--similar", action="append", metavar="PATH",
                        help="print the images of the atlas nearest to this image (relative path as in the "
                             "manifest; repeat it to query with the centroid of several) as JSON; the image may "
                             "belong to another split's atlas of the run (e.g. --split train --similar "
                             "<a test image>: which training images look like it to the model)")
    parser.add_argument("-k", "--k", type=int, default=10, metavar="N", help="how many similar images (default 10)")


def run(args: argparse.Namespace) -> int:
    """Compute (or reuse) the atlas and print its summary."""
    from cvd_explorer.atlas import compute_atlas

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"\ratlas: {done}/{total} images", end="", file=sys.stderr, flush=True)

    atlas = compute_atlas(
        args.run_dir, args.split, args.method, masks=args.masks, batch_size=args.batch_size,
        data_root=args.data_root, progress=progress, force=args.force,
    )
    if not args.json:
        print(file=sys.stderr)
    if args.similar:
        print(json.dumps(similar_json(atlas, args.similar, args.k), allow_nan=False))
        return 0
    summary = atlas.summary  # written without NaN: undefined values are null
    if args.json:
        print(json.dumps(summary, allow_nan=False))
    else:
        print(describe(summary, str(atlas.folder)))
    return 0


def similar_json(atlas: Any, paths: list[str], k: int) -> dict[str, Any]:
    """``{"split", "query", "source", "similar": [{"path", "distance"}]}``: the ``k`` nearest images of
    ``atlas`` to ``paths``, found in this atlas or else in another current atlas of the run (``source``).

    Raises:
        RunError: k < 1, or a path that no atlas of the run holds.
    """
    from cvd_explorer.atlas import find_atlas
    from cvd_explorer.data.split import SPLITS
    from cvd_explorer.errors import RunError

    if k < 1:
        raise RunError(f"--k must be at least 1, got {k}")
    source = atlas
    known = {row.path for row in atlas.rows}
    if not all(p in known for p in paths):
        from cvd_explorer.runs import Run

        run = Run(atlas.folder.parent.parent)
        others = [find_atlas(run, split, atlas.method) for split in SPLITS if split != atlas.split]
        holding = [a for a in others if a is not None and all(p in {r.path for r in a.rows} for p in paths)]
        if not holding:
            raise RunError(f"{', '.join(p for p in paths if p not in known)} is in no atlas of the run "
                           f"({atlas.split} searched, and the other splits' atlases computed); give a path as "
                           "in the manifest, or compute the atlas of its split first")
        source = holding[0]
    found = atlas.similar(paths, k, source=None if source is atlas else source)
    return {"split": atlas.split, "query": list(paths), "source": source.split,
            "similar": [{"path": p, "distance": d} for p, d in found]}


def describe(summary: dict[str, Any], folder: str) -> str:
    """A few lines for a terminal."""
    from cvd_explorer.atlas.curves import DepthCurves

    depth = DepthCurves.from_json(summary["depth"])
    lines = [
        f"atlas of {summary['images']} {summary['split']} images ({summary['method']}, {len(summary['layers'])} conv "
        f"layers) in {summary['seconds']:.1f} s: {folder}",
        f"accuracy {summary['accuracy']:.4f}, {summary['misclassified']} misclassified; "
        f"{len(summary['suspected_label_errors'])} suspected label errors; "
        f"{summary['leakage']['test_images_with_copy_elsewhere']} test images with a copy in another split",
    ]
    for curve in ("agreement_with_last", "mass_in_mask"):
        if curve in depth:
            mid = len(depth.layers) // 2
            c, m = depth.overall[curve].correct.means, depth.overall[curve].misclassified.means
            lines.append(f"{curve} at {depth.layers[mid]} / {depth.layers[-1]}: correct "
                         f"{_num(c[mid])} / {_num(c[-1])}, misclassified {_num(m[mid])} / {_num(m[-1])}")
    slices = summary.get("slices") or []
    if slices:
        first = slices[0]
        lines.append(f"{len(slices)} underperforming slices; the first: {first['size']} images, error rate "
                     f"{first['error_rate']:.3f} [{first['interval'][0]:.3f}, {first['interval'][1]:.3f}] against "
                     f"{first['overall_error_rate']:.3f} overall (q = {first['q_value']:.2g})")
    issues = summary.get("issues") or {}
    if issues:
        lines.append("data issues: " + ", ".join(f"{name} {entry['count']}" for name, entry in issues.items()))
    for row in summary["skipped"][:5]:
        lines.append(f"skipped {row['path']}: {row['reason']}")
    for note in summary.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
