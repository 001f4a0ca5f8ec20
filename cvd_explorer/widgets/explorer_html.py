"""HTML pieces of the Explorer: the prediction table and titled boxes."""

from __future__ import annotations

import html

import ipywidgets as W

from cvd_explorer.explore.samples import SampleRow


def prediction_html(row: SampleRow, positive: str) -> str:
    """Table of a sample's name, p(positive), prediction, true label, verdict and loss.

    Args:
        row: the sample.
        positive: name of the positive class.
    """
    verdict = {None: "unknown", True: "✓ correct", False: "✗ misclassified"}[row.correct]
    colour = {None: "#555", True: "#1b7f1b", False: "#b00020"}[row.correct]
    items = [
        ("image", html.escape(row.name)),
        (f"p({html.escape(positive)})", f"{row.prob:.3f}"),
        ("predicted", html.escape(row.predicted)),
        ("true label", html.escape(row.label or "?")),
        ("", f'<b style="color:{colour}">{verdict}</b>'),
        ("loss", "–" if row.loss != row.loss else f"{row.loss:.3f}"),
    ]
    cells = "".join(f"<tr><td style='padding-right:8px;color:#666'>{k}</td><td>{v}</td></tr>" for k, v in items)
    return f"<table>{cells}</table>"


def titled(title: str, widget: W.Widget) -> W.VBox:
    """``widget`` under a bold grey ``title``."""
    return W.VBox([W.HTML(f"<span style='color:#444;font-weight:600'>{html.escape(title)}</span>"), widget])
