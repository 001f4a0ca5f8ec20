"""The report's per-class accuracy section: each class's accuracy (its recall) for every run, with a 95%
Wilson interval, from the runs' test predictions."""

from __future__ import annotations

from collections.abc import Sequence

from cvd_explorer.report.blocks import Cell, Section, Table
from cvd_explorer.runs import Run

SECTION_ID = "per-class"
TITLE = "Per-class accuracy"


def class_order(runs: Sequence[Run]) -> list[str]:
    """The classes of every run, the first run's order first, then any class another run adds."""
    order: list[str] = []
    for run in runs:
        order += [c for c in run.classes if c not in order]
    return order


def per_class_table(runs: Sequence[Run], labels: Sequence[str], table_id: str = "per-class-accuracy") -> Table:
    """One row per class: images, then per run its accuracy and the interval's low and high ends.

    Args:
        runs: runs with predictions.
        labels: the column title of each run.
    """
    from cvd_explorer.stats import per_class_accuracy

    order = class_order(runs)
    by_run = []
    for run in runs:
        rows = run.predictions or []
        by_run.append(per_class_accuracy([r["label"] for r in rows], [r["predicted"] for r in rows], run.classes))
    header = ["class"]
    for label in labels:
        header += [f"{label}: accuracy", "95% low", "95% high", "images"]
    table_rows = []
    for name in order:
        cells = [Cell(name)]
        for accuracies in by_run:
            ci = accuracies.get(name)
            if ci is None:
                cells += [Cell("–"), Cell("–"), Cell("–"), Cell("0", 0)]
            else:
                cells += [Cell(f"{ci.value:.1%}", ci.value), Cell(f"{ci.low:.1%}", ci.low),
                          Cell(f"{ci.high:.1%}", ci.high), Cell(str(ci.n), ci.n)]
        table_rows.append(cells)
    n = len(runs[0].predictions or []) if runs else 0
    return Table(
        table_id, "Accuracy of each true class with its 95% Wilson interval", header, table_rows,
        f"The share of each class's test images (about {n // max(1, len(order))} per class) predicted as that "
        "class, per run. With few images per class the intervals are wide: two runs differ on a class only where "
        "their intervals barely overlap, and the paired test in the comparison says whether the runs differ overall.",
    )


def per_class_section(runs: Sequence[Run], labels: Sequence[str]) -> Section:
    """The "Per-class accuracy" section of runs with predictions."""
    return Section(SECTION_ID, TITLE, [], [per_class_table(runs, labels)])
