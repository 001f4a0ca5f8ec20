"""`cvd-explorer sweep --arch resnet50 resnet101 --data DIR --out RUNS`: one run per architecture."""

from __future__ import annotations

import argparse
from pathlib import Path

from cvd_explorer.cli.train import add_config_arguments, config_from_args, recorded_config, run_training
from cvd_explorer.config import ARCHITECTURES

NAME = "sweep"
HELP = "train one run per architecture (the reference comparison), sequentially and resumably"
ORDER = 31
USES_TENSORFLOW = True
DESCRIPTION = """\
Train RUNS/<arch> for each --arch in turn with the same data, split and settings (the other
flags are those of `cvd-explorer train`). Re-running the same command resumes: finished runs
are skipped, stopped or killed ones continue from their last completed epoch. Compare the
results with `cvd-explorer runs RUNS`.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `sweep`."""
    parser.add_argument("--arch", nargs="+", choices=ARCHITECTURES, default=["resnet50", "resnet101"],
                        help="architectures, one run each (default resnet50 resnet101)")
    parser.add_argument("--data", metavar="DIR", required=True, help="data folder")
    parser.add_argument("--out", metavar="RUNS", required=True, help="folder for the runs (RUNS/<arch>)")
    add_config_arguments(parser, arch=False)
    parser.add_argument("--manifest", metavar="PATH", help="split manifest (default DATA/manifest.csv)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    """Train each architecture in turn; stop at the first failure (its exit status)."""
    import keras

    for arch in dict.fromkeys(args.arch):  # keep order, drop repeats
        out = Path(args.out) / arch
        base = recorded_config(out)
        flags = argparse.Namespace(**{**vars(args), "arch": None})
        config = config_from_args(flags, base).replace(arch=arch)
        if not args.quiet:
            print(f"== {arch}: {out}", flush=True)
        status = run_training(config, args, out, resume=True)
        keras.backend.clear_session()
        if status:
            return status
    return 0
