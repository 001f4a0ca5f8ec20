"""HTML pieces of the Explorer: the prediction table (with the top classes as bars) and titled boxes."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as W

from cvd_explorer.explore.samples import SampleRow

TOP_BARS = 5


def prediction_html(row: SampleRow, positive: str, classes: Sequence[str] | None = None) -> str:
    """Table of a sample's name, p(positive), prediction, true label, verdict and loss; for K > 2
    ``classes`` the predicted class's probability instead of p(positive), then the top-5 bars.

    Args:
        row: the sample.
        positive: name of the positive class (two classes).
        classes: the K class names in index order; with more than two, the bars of :func:`top_bars_html`.
    """
    if classes is not None and len(classes) > 2:
        return _table(row, f"p({html.escape(row.predicted)})") + top_bars_html(row, classes)
    return _table(row, f"p({html.escape(positive)})")


def _table(row: SampleRow, prob_name: str) -> str:
    verdict = {None: "unknown", True: "✓ correct", False: "✗ misclassified"}[row.correct]
    colour = {None: "#555", True: "#1b7f1b", False: "#b00020"}[row.correct]
    items = [
        ("image", html.escape(row.name)),
        (prob_name, f"{row.prob:.3f}"),
        ("predicted", html.escape(row.predicted)),
        ("true label", html.escape(row.label or "?")),
        ("", f'<b style="color:{colour}">{verdict}</b>'),
        ("loss", "–" if row.loss != row.loss else f"{row.loss:.3f}"),
    ]
    cells = "".join(f"<tr><td style='padding-right:8px;color:#666'>{k}</td><td>{v}</td></tr>" for k, v in items)
    return f"<table>{cells}</table>"


def top_bars_html(row: SampleRow, classes: Sequence[str], k: int = TOP_BARS) -> str:
    """The ``min(k, K)`` most probable classes of ``row`` as horizontal bars with their probabilities, the
    true class marked (``◀ true``) and in green when predicted, red otherwise."""
    lines = []
    for name, p in row.top(classes, k):
        true = name == row.label
        colour = "#1b7f1b" if true else ("#b00020" if name == row.predicted else "#7a8ca3")
        mark = " <b style='color:#1b7f1b'>◀ true</b>" if true else ""
        lines.append(
            f"<tr class='cvd-top-class'><td style='padding-right:6px'>{html.escape(name)}</td>"
            f"<td style='width:120px'><div style='background:{colour};height:10px;width:{max(p, 0.0) * 100:.1f}%'>"
            f"</div></td><td style='padding-left:6px'>{p:.3f}{mark}</td></tr>"
        )
    if row.label is not None and row.label not in [n for n, _ in row.top(classes, k)]:
        p_true = row.class_probs()[list(classes).index(row.label)] if row.label in classes else float("nan")
        lines.append(f"<tr><td colspan='3' style='color:#1b7f1b'>true {html.escape(row.label)}: p {p_true:.3f}"
                     "</td></tr>")
    return f"<div style='color:#666;margin-top:4px'>top {min(k, len(classes))}</div><table>{''.join(lines)}</table>"


def titled(title: str, widget: W.Widget) -> W.VBox:
    """``widget`` under a bold grey ``title``."""
    return W.VBox([W.HTML(f"<span style='color:#444;font-weight:600'>{html.escape(title)}</span>"), widget])
