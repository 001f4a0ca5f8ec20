"""HTML fragments of the Compare panel: results table, paired statistics, predictions of one sample."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from cvd_explorer.explore.compare import Pair, PairedStats
from cvd_explorer.results import format_result

_TABLE = "border-collapse:collapse;font-size:13px"
_TD = "padding:2px 10px;border-bottom:1px solid #ddd"
_NOTE = "color:#7a4b00;background:#fff8e1;border:1px solid #f0d58c;padding:4px 8px;border-radius:3px"


def note(text: str) -> str:
    """A highlighted notice (different test sets, missing predictions); "" for empty text."""
    return f'<div style="{_NOTE}">ℹ {html.escape(text)}</div>' if text else ""


def results_table_html(rows: Sequence[dict[str, Any]], name_a: str, name_b: str) -> str:
    """The results table (rows of :func:`cvd_explorer.explore.compare.results_table`), better value in bold."""
    head = (f"<tr><th style='{_TD};text-align:left'>metric</th><th style='{_TD}'>{html.escape(name_a)}</th>"
            f"<th style='{_TD}'>{html.escape(name_b)}</th></tr>")
    body = []
    for row in rows:
        cells = []
        for side in ("a", "b"):
            text = html.escape(format_result(row["key"], row[side]))
            if row["better"] == side:
                text = f"<b>{text}</b>"
            cells.append(f"<td style='{_TD};text-align:right'>{text}</td>")
        body.append(f"<tr><td style='{_TD}'>{html.escape(row['metric'])}</td>{''.join(cells)}</tr>")
    return f"<table class='cvd-compare-table' style='{_TABLE}'>{head}{''.join(body)}</table>"


def confusion_html(matrix: np.ndarray, classes: Sequence[str], title: str) -> str:
    """A 2×2 confusion matrix: rows true class, columns predicted."""
    head = "".join(f"<th style='{_TD}'>pred {html.escape(c)}</th>" for c in classes)
    rows = []
    for i, true in enumerate(classes):
        cells = "".join(
            f"<td style='{_TD};text-align:right;{'font-weight:600' if i == j else ''}'>{int(matrix[i, j]):,}</td>"
            for j in range(len(classes))
        )
        rows.append(f"<tr><th style='{_TD};text-align:left'>true {html.escape(true)}</th>{cells}</tr>")
    return (f"<div><div style='font-weight:600'>{html.escape(title)}</div>"
            f"<table style='{_TABLE}'><tr><th></th>{head}</tr>{''.join(rows)}</table></div>")


def stats_html(stats: PairedStats, name_a: str, name_b: str) -> str:
    """Accuracies with 95% CI, both confusion matrices side by side and McNemar's test in words."""
    acc = []
    for name, interval in ((name_a, stats.accuracy_a), (name_b, stats.accuracy_b)):
        acc.append(
            f"<li><b>{html.escape(name)}</b>: accuracy {100 * interval.value:.2f}% "
            f"(95% CI {100 * interval.low:.2f}–{100 * interval.high:.2f}%, n = {interval.n:,})</li>"
        )
    matrices = (confusion_html(stats.confusion_a, stats.classes, name_a)
                + confusion_html(stats.confusion_b, stats.classes, name_b))
    sentence = html.escape(stats.mcnemar.sentence(name_a, name_b))
    return (
        f"<ul style='margin:4px 0'>{''.join(acc)}</ul>"
        f"<div style='display:flex;gap:24px'>{matrices}</div>"
        f"<p class='cvd-mcnemar' style='margin:6px 0'>{sentence}</p>"
    )


def prediction_html(row: dict[str, Any], positive: str) -> str:
    """One run's prediction of a sample: p(positive), predicted class, true label, right or wrong, loss."""
    right = bool(row["correct"])
    colour = "#1b7f1b" if right else "#b00020"
    items = [
        (f"p({html.escape(positive)})", f"{float(row['prob']):.3f}"),
        ("predicted", html.escape(str(row["predicted"]))),
        ("true label", html.escape(str(row["label"]))),
        ("", f'<b style="color:{colour}">{"✓ correct" if right else "✗ misclassified"}</b>'),
        ("loss", f"{float(row['loss']):.3f}"),
    ]
    cells = "".join(f"<tr><td style='padding-right:8px;color:#666'>{k}</td><td>{v}</td></tr>" for k, v in items)
    return f"<table>{cells}</table>"


def pair_title(pair: Pair | None) -> str:
    """Heading of the side-by-side views."""
    if pair is None:
        return "<i>no sample selected</i>"
    return f"<b>{html.escape(pair.name)}</b> · true {html.escape(pair.label)}"
