"""The Explorer's clickable confusion matrix: packed at the start of the panel, a column per class wide
enough for its name, the counts on the cells."""

from __future__ import annotations

import numpy as np

from cvd_explorer.widgets.confusion_grid import CELL_PX, ConfusionGrid, column_widths


def test_columns_fit_the_class_names_and_the_grid_packs_at_the_start():
    clicked = []
    grid = ConfusionGrid(lambda true, pred: clicked.append((true, pred)))
    classes = ("cat", "dog", "fox", "rabbit")
    counts = np.array([[1, 0, 0, 5], [0, 0, 0, 6], [0, 0, 2, 4], [0, 0, 0, 6]])
    grid.set_counts(classes, counts)
    widths = column_widths(classes)
    assert widths[:3] == [CELL_PX] * 3 and widths[3] > CELL_PX  # "rabbit" does not fit in a 38 px column
    assert grid._grid.layout.grid_template_columns == "auto " + " ".join(f"{w}px" for w in widths)
    assert grid._grid.layout.justify_content == "flex-start"  # the names' column is not stretched over the panel
    assert grid.widget.layout.display == ""
    for (true, pred), button in grid.cells.items():
        assert button.layout.width == f"{widths[classes.index(pred)]}px"
        assert button.description == str(counts[classes.index(true), classes.index(pred)])
    grid.cells[("fox", "rabbit")].click()
    assert clicked == [("fox", "rabbit")]
    assert column_widths(tuple(str(i) for i in range(10))) == [CELL_PX] * 10  # digits: the compact grid
