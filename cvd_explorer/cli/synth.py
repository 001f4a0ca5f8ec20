"""`cvd-explorer synth`: write a synthetic cats-and-dogs folder with ground-truth masks."""

from __future__ import annotations

import argparse
import sys
import time

from cvd_explorer.data.synthetic import CASES, TRUTH_NAME, generate

NAME = "synth"
HELP = "write deterministic cartoon cats and dogs with ground-truth masks (a demo data set)"
ORDER = 5
DESCRIPTION = """\
Write a synthetic Cats-vs-Dogs folder in Kaggle's flat layout, for demos and tests:

  OUT/train/cat.<i>.jpg, OUT/train/dog.<i>.jpg      n/2 images per class
  OUT/_masks/train/<same name>.png                  0 background, 1 the labelled animal,
                                                    2 the other animal (cat-and-dog images)
  OUT/synthetic.json                                parameters, per image case and bounding box

Cats and dogs differ only by shape (ears, muzzle or snout, whiskers, tail); colours and cluttered
backgrounds are drawn from the same palette for both. A share of hard images (--hard-fraction)
shows a person next to the animal, a cat and a dog together, or a box hiding part of the animal.
--label-noise FRAC writes that share of the images under the other class's name (a dog in
cat.<i>.jpg); --duplicates N writes N images again under new names (exact byte copies, JPEG
re-encodings at quality 60, half-size copies, lossless PNGs of the same pixels, recompressions).
Both write what they planted to OUT/synth-truth.json, which no training reads.
The same parameters give byte-identical files; running again on the same folder reuses it.
A non-empty folder that is not a synthetic output is never written to.

example:
  cvd-explorer synth demo_data --n 2000 --size 128 --seed 0
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``synth``."""
    parser.add_argument("out", help="output folder (new, empty, or a previous synth output)")
    parser.add_argument("--n", type=int, default=2000, help="number of images, even (default 2000)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--hard-fraction", type=float, default=0.08,
                        help="share of hard images: person, both, occluded (default 0.08)")
    parser.add_argument("--label-noise", type=float, default=0.0, metavar="FRAC",
                        help="share of images written under the other class's name (default 0)")
    parser.add_argument("--duplicates", type=int, default=0, metavar="N",
                        help="images written again under new names, exact or re-encoded/resized (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    """Generate the folder and print a one-line summary; returns 0."""
    start = time.monotonic()
    progress = None if args.quiet else _progress
    info = generate(args.out, n=args.n, size=args.size, seed=args.seed,
                    hard_fraction=args.hard_fraction, progress=progress,
                    label_noise=args.label_noise, duplicates=args.duplicates)
    if progress is not None and not info.reused:
        print(file=sys.stderr)
    what = "reused" if info.reused else f"wrote {info.n} images in {time.monotonic() - start:.1f} s"
    cases = ", ".join(f"{c} {info.cases[c]}" for c in CASES)
    planted = f"; {info.flipped} label flips, {info.copies} copies (truth: {TRUTH_NAME})" \
        if info.flipped or info.copies else ""
    print(f"{info.root}: {what} ({info.size}x{info.size}, seed {info.seed}; {cases}{planted})")
    return 0


def _progress(done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        print(f"\rsynth: {done}/{total}", end="", file=sys.stderr, flush=True)
