"""HTML fragments of the Compare panel: results table, paired statistics (per class too), predictions of one
sample."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from cvd_explorer.classes import top_k
from cvd_explorer.explore.compare import Pair, PairedStats
from cvd_explorer.results import format_result
from cvd_explorer.stats import Interval

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
    """A K×K confusion matrix: rows true class, columns predicted (diagonal in bold)."""
    binary = len(classes) == 2
    head = "".join(f"<th style='{_TD}'>{'pred ' if binary else ''}{html.escape(c)}</th>" for c in classes)
    rows = []
    for i, true in enumerate(classes):
        cells = "".join(
            f"<td style='{_TD};text-align:right;{'font-weight:600' if i == j else ''}'>{int(matrix[i, j]):,}</td>"
            for j in range(len(classes))
        )
        rows.append(f"<tr><th style='{_TD};text-align:left'>{'true ' if binary else ''}{html.escape(true)}</th>"
                    f"{cells}</tr>")
    corner = "" if binary else "true ↓ · predicted →"
    return (f"<div><div style='font-weight:600'>{html.escape(title)}</div>"
            f"<table style='{_TABLE}'><tr><th style='{_TD};font-weight:400;color:#666'>{corner}</th>{head}</tr>"
            f"{''.join(rows)}</table></div>")


def _interval(interval: Interval | None) -> str:
    if interval is None:
        return "–"
    low, high = 100 * interval.low, 100 * interval.high
    return f"{100 * interval.value:.1f}% <span style='color:#666'>({low:.1f}–{high:.1f})</span>"


def per_class_html(stats: PairedStats, name_a: str, name_b: str) -> str:
    """Each class's accuracy for both runs with its 95% Wilson interval, the better one in bold."""
    head = (f"<tr><th style='{_TD};text-align:left'>class</th><th style='{_TD}'>images</th>"
            f"<th style='{_TD}'>{html.escape(name_a)}</th><th style='{_TD}'>{html.escape(name_b)}</th></tr>")
    body = []
    for c in stats.classes:
        a, b = stats.per_class_a.get(c), stats.per_class_b.get(c)
        texts = [_interval(a), _interval(b)]
        if a is not None and b is not None and a.value != b.value:
            k = 0 if a.value > b.value else 1
            texts[k] = f"<b>{texts[k]}</b>"
        n = a.n if a is not None else 0
        body.append(f"<tr><td style='{_TD}'>{html.escape(c)}</td><td style='{_TD};text-align:right'>{n:,}</td>"
                    + "".join(f"<td style='{_TD};text-align:right'>{t}</td>" for t in texts) + "</tr>")
    return (f"<div class='cvd-per-class'><div style='font-weight:600'>Per-class accuracy (95% Wilson interval)</div>"
            f"<table style='{_TABLE}'>{head}{''.join(body)}</table></div>")


def shared_mistakes_html(stats: PairedStats) -> str:
    """For K > 2 classes: how many shared mistakes are the same wrong class ("" for two classes)."""
    if len(stats.classes) <= 2:
        return ""
    same, different = stats.shared.same, stats.shared.different
    return (f"<p class='cvd-shared-mistakes' style='margin:4px 0'>Both wrong: <b>{same:,}</b> with the same wrong "
            f"class, <b>{different:,}</b> with different wrong classes.</p>")


def stats_html(stats: PairedStats, name_a: str, name_b: str) -> str:
    """Accuracies with 95% CI, per-class accuracies, both confusion matrices side by side, the shared mistakes
    (K > 2) and McNemar's test in words."""
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
        f"<div style='display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start'>"
        f"{per_class_html(stats, name_a, name_b)}{matrices}</div>"
        f"{shared_mistakes_html(stats)}"
        f"<p class='cvd-mcnemar' style='margin:6px 0'>{sentence}</p>"
    )


def prediction_html(row: dict[str, Any], classes: Sequence[str], positive: str | None = None, top: int = 3) -> str:
    """One run's prediction of a sample: p(positive) for two classes, the ``top`` classes' probabilities for K > 2,
    then the predicted class, true label, right or wrong, loss."""
    right = bool(row["correct"])
    colour = "#1b7f1b" if right else "#b00020"
    if len(classes) == 2:
        name = positive if positive is not None else classes[1]
        probs = [(f"p({html.escape(name)})", f"{float(row['prob']):.3f}")]
    else:
        probs = [(f"p({html.escape(c)})", f"{p:.3f}") for c, p in top_k(row["probs"], classes, top)]
    items = [
        *probs,
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
