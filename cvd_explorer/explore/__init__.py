"""Widget-free computation behind the Explorer: the sample table, its filters, the per-sample
explanation cache and the composition of views into RGB arrays.

Nothing here imports ipywidgets or IPython, so the same code serves the widgets, the CLI and the
benchmarks.
"""

from __future__ import annotations

from cvd_explorer.explore.cache import LRUCache
from cvd_explorer.explore.samples import PREDICTION_FILTERS, SORT_KEYS, SampleRow, count_text, filter_rows
from cvd_explorer.explore.session import SampleExplanation, Session

__all__ = [
    "LRUCache",
    "PREDICTION_FILTERS",
    "SORT_KEYS",
    "SampleExplanation",
    "SampleRow",
    "Session",
    "count_text",
    "filter_rows",
]
