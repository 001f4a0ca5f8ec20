"""`cvd-explorer runs RUNS`: a table of the runs in a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from cvd_explorer.errors import RunError
from cvd_explorer.runs import files

NAME = "runs"
HELP = "list the runs in a folder with their summary figures"
ORDER = 32
DESCRIPTION = """\
Print one line per run directory found in RUNS (RUNS itself, or its sub-folders holding a
config.json): name, architecture, state, completed/total epochs, max validation accuracy,
test accuracy and test loss. "interrupted" means the status says running but the process is
gone (resume it with `cvd-explorer train --out RUN --resume`).
"""

COLUMNS = ("name", "arch", "state", "epochs", "max_val_acc", "test_acc", "test_loss")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `runs`."""
    parser.add_argument("runs_dir", metavar="RUNS", help="folder of run directories (or one run)")


def find_runs(folder: str | Path) -> list[Path]:
    """Run directories in ``folder`` (itself if it is one), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder")
    if (folder / files.CONFIG).is_file():
        return [folder]
    return sorted(p for p in folder.iterdir() if (p / files.CONFIG).is_file())


def rows(folder: str | Path) -> list[dict[str, str]]:
    """One dict of formatted cells per run (a damaged run shows its error in ``state``)."""
    from cvd_explorer.runs.folder import is_missing
    from cvd_explorer.runs.run import Run

    out = []
    for path in find_runs(folder):
        try:
            run = Run(path)
            summary = run.summary or {}
            history = run.history
            val = [r["val_accuracy"] for r in history if not is_missing(r["val_accuracy"])]
            out.append({
                "name": run.name,
                "arch": run.config.arch,
                "state": run.state,
                "epochs": f"{len(history)}/{run.config.epochs}",
                "max_val_acc": _fmt(max(val) if val else None),
                "test_acc": _fmt(summary.get("test_accuracy")),
                "test_loss": _fmt(summary.get("test_loss")),
            })
        except RunError as exc:
            out.append({c: "" for c in COLUMNS} | {"name": path.name, "state": f"damaged: {exc}"})
    return out


def format_table(table: list[dict[str, str]]) -> str:
    """Aligned text table with a header line."""
    widths = {c: max([len(c)] + [len(r[c]) for r in table]) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS) for r in table]
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    """Print the table (or say that there are no runs)."""
    table = rows(args.runs_dir)
    if not table:
        print(f"no runs in {args.runs_dir}")
        return 0
    print(format_table(table))
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
