"""`cvd-explorer evaluate RUN`: recompute predictions.csv and summary.json from model.keras."""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "recompute a run's test predictions and summary from its best checkpoint"
ORDER = 33
USES_TENSORFLOW = True
DESCRIPTION = """\
Load RUN/model.keras (safe mode; its sha256 must match RUN/model.json), predict the test split
of RUN/manifest.csv and rewrite RUN/predictions.csv and RUN/summary.json. Use --data when the
images live elsewhere than the data folder recorded in the run (a copied run).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `evaluate`."""
    parser.add_argument("run_dir", metavar="RUN", help="run directory")
    parser.add_argument("--data", metavar="DIR", help="data folder, if not the one recorded in the run")
    parser.add_argument("--batch-size", type=int, metavar="B", help="prediction batch (default: the run's)")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the summary figures."""
    from cvd_explorer.runs.evaluate import evaluate_run

    summary = evaluate_run(args.run_dir, data_root=args.data, batch_size=args.batch_size)
    print(
        f"test accuracy {summary['test_accuracy']:.4f}  test loss {summary['test_loss']:.4f}  "
        f"({summary['test_images']} images, best epoch {summary['best_epoch']})"
    )
    return 0
