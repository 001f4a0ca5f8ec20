"""The Explorer's filters: prediction (all / correct / misclassified), true class, predicted class, sort, and
the clickable confusion matrix whose cells set the true and predicted class together."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as W

from cvd_explorer.explore.samples import (
    PREDICTION_FILTERS,
    SampleRow,
    confusion_counts,
    count_text,
    filter_rows,
    restrict_rows,
)
from cvd_explorer.widgets.confusion_grid import ConfusionGrid

SORTS = (("confidence", "confidence"), ("loss", "loss"), ("file name", "name"), ("atlas order", "selection"))


class FilterBar:
    """``filter``, ``class_filter`` (true class), ``predicted_filter``, ``sort``, the confusion ``grid`` and a
    ``clear`` button (every filter back to "all"). The panel observes the widgets; :meth:`apply` filters.

    Args:
        on_cell: called with ``(true, predicted)`` when a confusion cell is clicked.
    """

    def __init__(self, classes: Sequence[str], on_cell: Callable[[str, str], None]) -> None:
        self.filter = W.ToggleButtons(options=list(PREDICTION_FILTERS), value="all", description="prediction")
        self.filter.add_class("cvd-filter")
        self.class_filter = W.Dropdown(options=["all", *classes], value="all", description="true class",
                                       layout=W.Layout(width="200px"))
        self.predicted_filter = W.Dropdown(options=["all", *classes], value="all", description="predicted",
                                           layout=W.Layout(width="200px"))
        self.predicted_filter.add_class("cvd-predicted-filter")
        self.sort = W.Dropdown(options=list(SORTS), value="name", description="sort by",
                               layout=W.Layout(width="220px"))
        self.clear = W.Button(description="clear filters", tooltip="show every image again (all filters on 'all')",
                              layout=W.Layout(width="110px"))
        self.grid = ConfusionGrid(on_cell)
        self.classes: tuple[str, ...] = tuple(classes)
        self.widget = W.VBox([W.HBox([self.filter, self.clear]),
                              W.HBox([self.class_filter, self.predicted_filter, self.sort]), self.grid.widget])

    @property
    def widgets(self) -> tuple[W.ValueWidget, ...]:
        """The filter widgets (to observe, enable or disable them together)."""
        return (self.filter, self.class_filter, self.predicted_filter, self.sort)

    def set_classes(self, classes: Sequence[str]) -> None:
        """Offer ``classes`` in the class filters, every filter back on "all"."""
        self.classes = tuple(classes)
        for dropdown in (self.class_filter, self.predicted_filter):
            dropdown.options = ["all", *self.classes]
            dropdown.value = "all"

    def set_cell(self, true_class: str, predicted_class: str) -> None:
        """Set the filters to one confusion cell (every prediction, that true and that predicted class).

        Raises:
            ValueError: a class that is not one of :attr:`classes`, named.
        """
        for what, name in (("true", true_class), ("predicted", predicted_class)):
            if name not in self.classes:
                raise ValueError(f"unknown {what} class {name!r}; classes: {', '.join(self.classes)}")
        self.filter.value = "all"
        self.class_filter.value = true_class
        self.predicted_filter.value = predicted_class

    def reset(self) -> None:
        """Every filter back on "all" (the sort stays)."""
        self.filter.value = self.class_filter.value = self.predicted_filter.value = "all"

    @property
    def cell(self) -> tuple[str, str] | None:
        """The confusion cell shown, when both the true and the predicted class are chosen."""
        true, pred = self.class_filter.value, self.predicted_filter.value
        return None if "all" in (true, pred) else (str(true), str(pred))

    def apply(self, rows: Sequence[SampleRow], restricted: Sequence[str] | None,
              selection: str = "atlas selection") -> tuple[list[SampleRow], str]:
        """The rows passing the restriction and the filters, in the sort's order, and the count text; the
        confusion grid shows the counts of the restricted rows.

        Args:
            rows: every sample row.
            restricted: the keys the panel is restricted to (see ``Explorer.restrict``), or None.
            selection: what the restriction is called in the count text.
        """
        label = None if self.class_filter.value == "all" else str(self.class_filter.value)
        predicted = None if self.predicted_filter.value == "all" else str(self.predicted_filter.value)
        kept = restrict_rows(rows, restricted)
        shown = filter_rows(kept, self.filter.value, label, self.sort.value, predicted=predicted)
        selected = None if restricted is None else len(kept)
        text = count_text(len(shown), len(rows), self.filter.value, label, selected, predicted, selection)
        self.grid.set_counts(self.classes, confusion_counts(kept, self.classes), self.cell)
        return shown, text
