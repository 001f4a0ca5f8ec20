"""`cvd-explorer report RUN [RUN ...] --out DIR`: the reference study's figures as an HTML page."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "write an HTML report with the reference study's figures for one or more runs"
ORDER = 60
USES_TENSORFLOW = True
DESCRIPTION = """\
Reproduce the reference study's figures for each RUN, headless: training curves, the results
table, feature maps across depth, Grad-CAM on sample cats and dogs and across depth for right and
wrong predictions, the confusion matrix, and explanation metrics against random maps. With two
or more runs: results side by side, agreement counts, accuracies with 95% intervals and McNemar's
test in words.

OUT gets index.html (self-contained: open it in a browser or mail it) and figures/*.png.
Each RUN needs its test predictions (`cvd-explorer evaluate RUN` writes them).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `report`."""
    parser.add_argument("runs", metavar="RUN", nargs="+", help="run directories (two or more to compare)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder (created)")
    parser.add_argument("--samples", metavar="N", type=int, default=2,
                        help="images per class and per right/wrong group (default 2)")
    parser.add_argument("--no-metrics", action="store_true", help="skip the explanation metrics (faster)")
    parser.add_argument("--data-root", metavar="DIR",
                        help="folder holding the runs' images, if not the one recorded in the runs (copied runs)")


def run(args: argparse.Namespace) -> int:
    """Build the report, with progress on stderr; print where it is."""
    from cvd_explorer.errors import CvdError
    from cvd_explorer.report import build_report
    from cvd_explorer.report.progress import print_to_stderr
    from cvd_explorer.runs import Run

    if args.samples < 1:
        raise CvdError(f"--samples must be at least 1, got {args.samples}")
    runs = [Run(path, data_root=args.data_root) for path in args.runs]
    page = build_report(runs, args.out, progress=print_to_stderr, samples_per_cell=args.samples,
                        metrics=not args.no_metrics)
    print(f"report written to {page}")
    return 0
