"""The report's "where the model looked, epoch by epoch": two probes of each run with probes.

For each run that recorded probes (``RUN/probes/``), one figure: a probe of each class, at a middle
and the deepest block output with maps larger than 1x1, over up to :data:`EPOCHS` epochs evenly
spaced from the first to the last. Runs without probes get no section.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cvd_explorer.explore.probes import ProbeHistory, epoch_cells, pick_epochs, usable_layers
from cvd_explorer.report import figures
from cvd_explorer.report.blocks import Figure, Section, Text
from cvd_explorer.runs import Run

EPOCHS = 8


def probe_sections(runs: Sequence[Run], slugs: Sequence[str]) -> list[Section]:
    """One section per run with probes (in the runs' order); [] when no run has any."""
    sections = []
    for run, slug in zip(runs, slugs, strict=True):
        history = ProbeHistory.open(run.path, run.data_root)
        if history is not None and history.epochs:
            sections.append(probe_section(run, slug, history))
    return sections


def probe_section(run: Run, slug: str, history: ProbeHistory) -> Section:
    """The figure of one run's probes."""
    epochs = pick_epochs(history.epochs, EPOCHS)
    layers = usable_layers(history)
    shown = list(dict.fromkeys([layers[len(layers) // 2], layers[-1]]))
    rows: list[tuple[str, list[tuple[np.ndarray, str]]]] = []
    for index in history.pick(per_class=1)[:2]:
        for layer in shown:
            rows.append((f"{history.title(index)}\n{layer}", epoch_cells(history, index, layer, epochs)))
    caption = (f"Grad-CAM of the predicted class after epochs {', '.join(map(str, epochs))} (of "
               f"{history.epochs[-1]} recorded), for a {' and a '.join(dict.fromkeys(history.spec.labels))} probe "
               f"at block outputs {' and '.join(shown)}. The maps are the run's probes (RUN/probes/), computed "
               "on fixed test images at the end of every epoch. Look at whether the focus moves onto the animal "
               "as the model learns, and at which depth it settles first.")
    figure = Figure(f"{slug}-probes", "Where the model looked, epoch by epoch", caption,
                    figures.labelled_rows(rows))
    note = Text(f"{len(history.spec.images)} probe images, {len(history.layers)} block outputs, "
                f"{len(history.epochs)} epochs recorded.")
    return Section(f"{slug}-probes-section", f"{run.name}: where the model looked, epoch by epoch", [], [note, figure])
