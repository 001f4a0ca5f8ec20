"""`cvd-explorer synth`: write cartoon cats and dogs (or N animal kinds) with ground-truth masks."""

from __future__ import annotations

import argparse
import sys
import time

from cvd_explorer.data.synthetic import CASES, KINDS, MAX_CLASSES, TRUTH_NAME, generate
from cvd_explorer.data.synthetic.shortcut import CLASS_SHARE, CUE_KINDS, OTHER_SHARE, PLACES

NAME = "synth"
HELP = "write deterministic cartoon cats and dogs (or N animal kinds) with ground-truth masks (a demo data set)"
ORDER = 5
DESCRIPTION = f"""\
Write a synthetic Cats-vs-Dogs folder in Kaggle's flat layout, for demos and tests:

  OUT/train/cat.<i>.jpg, OUT/train/dog.<i>.jpg      n/2 images per class
  OUT/_masks/train/<same name>.png                  0 background, 1 the labelled animal,
                                                    2 the other animal (two-animal images)
  OUT/synthetic.json                                parameters, per image case and bounding box

--classes N (2..{MAX_CLASSES}) draws the first N kinds of {", ".join(KINDS)}
in a folder per class instead: OUT/<kind>/<kind>.<i>.jpg (n/N per class, n a multiple of N), masks
at OUT/_masks/<kind>/<same name>.png; synthetic.json lists the kinds in drawing order (scan and
train use the sorted folder names as the class order: the same for N <= 4).

The kinds differ only by shape (ears, muzzle or snout, beak, whiskers, tail, legs); colours and
cluttered backgrounds are drawn from the same palette for all. A share of hard images (--hard-fraction)
shows a person next to the animal, two animals of different kinds together, or a box hiding part of the
animal. --label-noise FRAC writes that share of the images under another class's name (a dog in
cat.<i>.jpg; with N classes the shown kind is chosen by the seed); --duplicates N writes N images again
under new names (exact byte copies, JPEG re-encodings at quality 60, half-size copies, lossless PNGs of
the same pixels, recompressions). Both write what they planted to OUT/synth-truth.json, which no
training reads. --shortcut KIND plants a "Clever Hans" cue (a small magenta mark at --shortcut-place):
on {CLASS_SHARE:.0%} of the --shortcut-class images in every split and, in the test split only, on
{OTHER_SHARE:.0%} of every other class's images. The cue follows the split, so synth writes OUT/manifest.csv
(what `cvd-explorer split OUT` writes); the marked images and boxes go to synth-truth.json.
The same parameters give byte-identical files; running again on the same folder reuses
it. A non-empty folder that is not a synthetic output is never written to.

examples:
  cvd-explorer synth demo_data --n 2000 --size 128 --seed 0
  cvd-explorer synth animals --classes 4 --n 1200 --size 64 --label-noise 0.04
  cvd-explorer synth hans --n 1200 --size 64 --shortcut square --shortcut-place top-left
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``synth``."""
    parser.add_argument("out", help="output folder (new, empty, or a previous synth output)")
    parser.add_argument("--n", type=int, default=2000,
                        help="number of images, a multiple of the classes (default 2000)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--hard-fraction", type=float, default=0.08,
                        help="share of hard images: person, both, occluded (default 0.08)")
    parser.add_argument("--label-noise", type=float, default=0.0, metavar="FRAC",
                        help="share of images written under another class's name (default 0)")
    parser.add_argument("--duplicates", type=int, default=0, metavar="N",
                        help="images written again under new names, exact or re-encoded/resized (default 0)")
    parser.add_argument("--classes", type=int, default=2, metavar="N",
                        help=f"number of animal kinds, 2..{MAX_CLASSES}: {', '.join(KINDS)} (default 2)")
    parser.add_argument("--shortcut", choices=CUE_KINDS, default=None, metavar="KIND",
                        help=f"plant a shortcut cue: {', '.join(CUE_KINDS)} (default none)")
    parser.add_argument("--shortcut-place", choices=PLACES, default="bottom-right", metavar="PLACE",
                        help=f"where the cue goes: {', '.join(PLACES)} (default bottom-right)")
    parser.add_argument("--shortcut-class", default=None, metavar="KIND",
                        help="the class the cue comes with in training (default the first kind, cat)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    """Generate the folder and print a one-line summary; returns 0."""
    start = time.monotonic()
    progress = None if args.quiet else _progress
    info = generate(args.out, n=args.n, size=args.size, seed=args.seed,
                    hard_fraction=args.hard_fraction, progress=progress,
                    label_noise=args.label_noise, duplicates=args.duplicates, classes=args.classes,
                    shortcut=args.shortcut, shortcut_place=args.shortcut_place, shortcut_class=args.shortcut_class)
    if progress is not None and not info.reused:
        print(file=sys.stderr)
    what = "reused" if info.reused else f"wrote {info.n} images in {time.monotonic() - start:.1f} s"
    cases = ", ".join(f"{c} {info.cases[c]}" for c in CASES)
    planted = f"; {info.flipped} label flips, {info.copies} copies (truth: {TRUTH_NAME})" \
        if info.flipped or info.copies else ""
    if info.marked:
        planted += (f"; {info.marked} images carry the shortcut's {args.shortcut} at {args.shortcut_place} "
                    f"(truth: {TRUTH_NAME}; the split it follows: manifest.csv)")
    kinds = f"{len(info.classes)} classes: {', '.join(info.classes)}; " if len(info.classes) > 2 else ""
    print(f"{info.root}: {what} ({kinds}{info.size}x{info.size}, seed {info.seed}; {cases}{planted})")
    return 0


def _progress(done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        print(f"\rsynth: {done}/{total}", end="", file=sys.stderr, flush=True)
