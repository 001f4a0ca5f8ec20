"""The comparison part of the report: runs side by side and paired statistics per pair of runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from cvd_explorer.report import figures
from cvd_explorer.report.blocks import Block, Cell, Figure, Section, Table, Text
from cvd_explorer.report.run_section import SYNTHETIC, is_synthetic, run_curves, run_label
from cvd_explorer.report.samples import Row
from cvd_explorer.report.tables import results_table
from cvd_explorer.runs import Run
from cvd_explorer.runs.imported_meta import no_history_note

CELL_TITLES = {"both_right": "both right", "both_wrong": "both wrong", "only_a": "only {a} right",
               "only_b": "only {b} right"}


@dataclass(frozen=True)
class Paired:
    """Two runs' correctness on the test images they share, in the same order.

    Attributes:
        relpaths: the shared images (manifest paths), sorted.
        correct_a, correct_b: bool ``(N,)``.
        same_manifest: whether the two runs' manifests have the same sha256.
        only_in_a, only_in_b: how many test images only one run has.
        labels, predicted_a, predicted_b: the shared images' true and predicted classes (empty when the
            rows carry none).
    """

    relpaths: list[str]
    correct_a: np.ndarray
    correct_b: np.ndarray
    same_manifest: bool
    only_in_a: int
    only_in_b: int
    labels: tuple[str, ...] = ()
    predicted_a: tuple[str, ...] = ()
    predicted_b: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """Images in each agreement cell: both_right, both_wrong, only_a, only_b."""
        from cvd_explorer.stats import agreement_cells

        cells = agreement_cells(self.correct_a, self.correct_b)
        return {key: int(len(cells[key])) for key in CELL_TITLES}


def pair(rows_a: Sequence[Row], rows_b: Sequence[Row], same_manifest: bool) -> Paired:
    """Pair two prediction tables on their shared test images (by manifest path)."""
    a = {r["relpath"]: r for r in rows_a}
    b = {r["relpath"]: r for r in rows_b}
    shared = sorted(a.keys() & b.keys())
    named = all("predicted" in r and "label" in r for r in (*rows_a, *rows_b))
    return Paired(
        shared, np.array([bool(a[k]["correct"]) for k in shared], bool),
        np.array([bool(b[k]["correct"]) for k in shared], bool),
        same_manifest, len(a.keys() - b.keys()), len(b.keys() - a.keys()),
        tuple(str(a[k]["label"]) for k in shared) if named else (),
        tuple(str(a[k]["predicted"]) for k in shared) if named else (),
        tuple(str(b[k]["predicted"]) for k in shared) if named else (),
    )


def _sha(run: Run) -> str | None:
    return (run.meta.get("manifest") or {}).get("sha256")


def pair_runs(a: Run, b: Run) -> Paired:
    """:func:`pair` on two runs' predictions; manifests compared by their sha256."""
    return pair(a.predictions or [], b.predictions or [], _sha(a) is not None and _sha(a) == _sha(b))


def pair_blocks(a: Run, b: Run, key: str) -> list[Block]:
    """Agreement counts, accuracies with 95% Wilson intervals and McNemar's test for one pair."""
    from cvd_explorer.stats import accuracy_interval, mcnemar

    p = pair_runs(a, b)
    blocks: list[Block] = []
    if not p.same_manifest:
        blocks.append(Text(
            f"{a.name} and {b.name} were trained on different splits (their manifests differ): they are compared "
            f"on the {len(p.relpaths)} test images they share only ({p.only_in_a} test images only {a.name} has, "
            f"{p.only_in_b} only {b.name}).", "warn", f"{key}-shared",
        ))
    if not p.relpaths:
        blocks.append(Text(f"{a.name} and {b.name} share no test image: nothing to compare.", "empty", f"{key}-none"))
        return blocks
    counts = p.counts()
    rows = [[Cell(CELL_TITLES[k].format(a=a.name, b=b.name)), Cell(str(v), v)] for k, v in counts.items()]
    split = ""
    if len(a.classes) > 2 and p.labels:
        from cvd_explorer.stats import shared_mistakes

        mistakes = shared_mistakes(p.predicted_a, p.predicted_b, p.labels)
        rows += [[Cell("both wrong, same class"), Cell(str(mistakes.same), mistakes.same)],
                 [Cell("both wrong, different classes"), Cell(str(mistakes.different), mistakes.different)]]
        split = (" The last two rows split \"both wrong\": the same wrong class from both models points at the "
                 "images (or labels), different wrong classes at the models.")
    blocks.append(Table(
        f"{key}-agreement", f"Agreement of {a.name} and {b.name}", ["cell", "images"], rows,
        f"On {len(p.relpaths)} shared test images. The two \"only\" cells are the images that decide McNemar's test."
        + split,
    ))
    acc_rows = []
    for run, correct in ((a, p.correct_a), (b, p.correct_b)):
        ci = accuracy_interval(correct)
        acc_rows.append([Cell(run.name), Cell(f"{ci.value:.2%}", ci.value), Cell(f"{ci.low:.2%}", ci.low),
                         Cell(f"{ci.high:.2%}", ci.high), Cell(str(ci.n), ci.n)])
    blocks.append(Table(
        f"{key}-accuracy", "Test accuracy with 95% Wilson interval", ["run", "accuracy", "low", "high", "images"],
        acc_rows, "Overlapping intervals alone do not show a difference; the paired test below does.",
    ))
    blocks.append(Text(mcnemar(p.correct_a, p.correct_b).sentence(a.name, b.name), "verdict", f"{key}-mcnemar"))
    return blocks


def comparison_section(runs: Sequence[Run], slugs: Sequence[str]) -> Section:
    """Results side by side, validation curves overlaid, then paired statistics for each pair."""
    labels = [run_label(r) for r in runs]
    synthetic = any(is_synthetic(r) for r in runs)
    note = f" Runs marked {SYNTHETIC} were trained on generated images, not on the Kaggle photos." if synthetic else ""
    section = Section("comparison", "Comparison", [SYNTHETIC] if synthetic else [])
    section.blocks.append(results_table(
        "comparison-results", labels, [r.summary or {} for r in runs], "Results side by side",
        "The reference study's table for each run (summary.json). A difference here is only meaningful with the "
        "paired test below." + note,
    ))
    untrained = [n for n in map(no_history_note, runs) if n]  # imported models: no curves
    curves = [run_curves(r) for r in runs if not no_history_note(r)]
    section.blocks += [Text(n, id=f"comparison-no-history-{k}") for k, n in enumerate(untrained)]
    if curves:
        section.blocks.append(Figure(
            "comparison-curves", "Validation curves overlaid",
            "Validation accuracy (left) and loss (right) of every run, one colour each. Look at which run reaches "
            "its best earlier and whether one keeps improving while the other has flattened.",
            figures.training_curves(curves, validation_only=True),
        ))
    for (i, a), (j, b) in combinations(enumerate(runs), 2):
        key = f"compare-{slugs[i]}-{slugs[j]}"
        section.subsections.append(Section(key, f"{a.name} vs {b.name}", [], pair_blocks(a, b, key)))
    return section
