"""The reference study's results table: for runs (from their summaries) and as the study reported it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cvd_explorer.report.blocks import Cell, Table
from cvd_explorer.results import MISSING, RESULT_METRICS, format_result

# (summary key, row title, format) in the study's order, then what it did not report.
RESULT_ROWS: tuple[tuple[str, str, str], ...] = tuple((m.key, m.label, m.fmt) for m in RESULT_METRICS)

# DESIGN.md, "Its reported table": the study's numbers, never reproduced here.
REFERENCE_STUDY: dict[str, dict[str, float]] = {
    "ResNet50": {
        "max_train_accuracy": 0.96375, "min_train_loss": 0.0903, "max_val_accuracy": 0.9475,
        "min_val_loss": 0.1564, "test_accuracy": 0.9380, "test_loss": 0.1692,
    },
    "ResNet101": {
        "max_train_accuracy": 0.9568, "min_train_loss": 0.1212, "max_val_accuracy": 0.9375,
        "min_val_loss": 0.1708, "test_accuracy": 0.9270, "test_loss": 0.1951,
    },
}
REFERENCE_TITLE = "As reported by the reference study (not reproduced here)"


def result_cell(key: str, value: Any) -> Cell:
    """The figure ``key`` as the results table shows it (:func:`~cvd_explorer.results.format_result`),
    its exact value kept; a dash when missing."""
    text = format_result(key, value)
    if text == MISSING:
        return Cell(text)
    return Cell(text, int(value) if key == "epochs" else value)


def results_table(
    table_id: str, columns: Sequence[str], summaries: Sequence[Mapping[str, Any]], title: str, caption: str,
) -> Table:
    """The study's table with one column per run.

    Args:
        table_id: element id.
        columns: column titles (run labels).
        summaries: each run's ``summary.json`` dict, in column order.
    """
    rows = [[Cell(name), *(result_cell(key, s.get(key)) for s in summaries)] for key, name, _ in RESULT_ROWS]
    return Table(table_id, title, ["", *columns], rows, caption)


def reference_table() -> Table:
    """The reference study's own numbers (DESIGN.md) as it wrote them, in a table titled as not reproduced."""
    names = list(REFERENCE_STUDY)
    # as the study wrote them: its test accuracy as a percentage, every other figure as a plain number
    as_written = {key: "{:.2%}" if key == "test_accuracy" else "{:.5g}" for key, _, _ in RESULT_ROWS}
    rows = [
        [Cell(name), *(Cell(as_written[key].format(value), value)
                       for value in (REFERENCE_STUDY[model][key] for model in names))]
        for key, name, _ in RESULT_ROWS
        if key in REFERENCE_STUDY[names[0]]
    ]
    return Table(
        "reference-study",
        REFERENCE_TITLE,
        ["", *names],
        rows,
        "Copied from the study's write-up (Kaggle Cats-vs-Dogs, 4,000 test images, one seed each). "
        "These numbers were not produced by this tool; compare them with the runs above only as a "
        "reference point.",
    )
