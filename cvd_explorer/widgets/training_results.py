"""The TrainingPanel's results box: test accuracy and per-class accuracy once a run has finished."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as W

from cvd_explorer.errors import RunError
from cvd_explorer.runs.folder import read_summary
from cvd_explorer.widgets._errors import ErrorArea


class ResultsView:
    """The results box (:attr:`widget`), redrawn when a finished run's ``summary.json`` changes."""

    def __init__(self) -> None:
        self.widget = W.HTML("")
        self._key: object = None

    def show(self, out: Path | None, finished: bool, errors: ErrorArea) -> None:
        """Per-class accuracy of the run folder ``out`` once ``finished`` (read once per summary file)."""
        path = out / "summary.json" if out is not None else None
        stamp = path.stat().st_mtime_ns if finished and path is not None and path.is_file() else None
        key = (path, stamp)
        if key == self._key:
            return
        self._key = key
        try:
            self.widget.value = results_html(read_summary(out)) if stamp is not None and out is not None else ""
        except RunError as exc:  # a damaged summary.json: say so, keep the panel
            self.widget.value = ""
            errors.show(str(exc), "results")


def results_html(summary: dict[str, Any] | None) -> str:
    """HTML of the test accuracy and a per-class table (class, accuracy, test images, most often
    mistaken for) from ``summary.json``; "" when there is no summary or it has no per-class figures."""
    if not summary or not isinstance(summary.get("per_class_accuracy"), dict):
        return ""
    classes = [str(c) for c in summary.get("classes") or summary["per_class_accuracy"]]
    matrix = summary.get("confusion_matrix") or []
    accuracy = summary.get("test_accuracy")
    head = f"test accuracy {accuracy:.3f}" if isinstance(accuracy, int | float) else "test accuracy -"
    rows = []
    for k, name in enumerate(classes):
        value = summary["per_class_accuracy"].get(name)
        counts = matrix[k] if k < len(matrix) else []
        total = int(sum(counts)) if counts else 0
        confused = _most_confused(counts, k, classes)
        shown = "-" if value is None else f"{value:.3f}"
        rows.append(
            f"<tr data-class='{html.escape(name)}'><td>{html.escape(name)}</td><td>{shown}</td>"
            f"<td>{total}</td><td>{html.escape(confused)}</td></tr>"
        )
    return (
        f"<div class='cvd-results'><b>{head}</b> on {summary.get('test_images', '?')} test images"
        "<table class='cvd-per-class'><tr><th>class</th><th>per-class accuracy</th><th>images</th>"
        f"<th>mistaken for</th></tr>{''.join(rows)}</table></div>"
    )


def _most_confused(counts: list[int], k: int, classes: list[str]) -> str:
    """The class the true class ``k`` was most often predicted as, with its count ("" if never wrong)."""
    wrong = [(n, j) for j, n in enumerate(counts) if j != k and n > 0]
    if not wrong:
        return ""
    n, j = max(wrong, key=lambda item: (item[0], -item[1]))
    return f"{classes[j]} ({n})"
