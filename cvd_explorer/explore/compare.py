"""Widget-free logic of the Compare panel: pairing two runs' test predictions, the agreement
cells, the paired statistics and the results table of both runs.

Nothing here imports ipywidgets or IPython; the panel (:mod:`cvd_explorer.widgets.compare`), the
CLI and tests share it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

from cvd_explorer.results import RESULT_METRICS, format_result
from cvd_explorer.stats import (
    AGREEMENT_CELLS,
    Interval,
    McNemar,
    SharedMistakes,
    accuracy_interval,
    agreement_cells,
    confusion_matrix,
    mcnemar,
    per_class_accuracy,
    shared_mistakes,
)

# (key in summary.json, label shown, "max"/"min"/None: which value is better)
TABLE_METRICS: tuple[tuple[str, str, str | None], ...] = tuple((m.key, m.label, m.better) for m in RESULT_METRICS)
CELL_TITLES = {
    "all": "all",
    "both_right": "both right",
    "both_wrong": "both wrong",
    "only_a": "only {a} right",
    "only_b": "only {b} right",
    "both_wrong_same": "both wrong, same class",
    "both_wrong_different": "both wrong, different classes",
}
CELL_TOOLTIPS = {
    "all": "every shared test image", "both_right": "both runs right", "both_wrong": "both runs wrong",
    "only_a": "only run A right", "only_b": "only run B right",
    "both_wrong_same": "both runs wrong, and both predicted the same wrong class",
    "both_wrong_different": "both runs wrong, each with another wrong class",
}
# For K > 2 classes the shared mistakes are split in two more cells.
SPLIT_CELLS = ("both_wrong_same", "both_wrong_different")
# Gallery order for "all": disagreements first, then shared mistakes, then shared successes.
_CELL_ORDER = {"only_a": 0, "only_b": 1, "both_wrong": 2, "both_right": 3}


@dataclass(frozen=True)
class Pair:
    """One test image and both runs' predictions of it.

    Attributes:
        key: the sample's identity in the panel: run A's absolute image path.
        name: file name.
        label: true class name.
        index_a, index_b: row index in each run's ``predictions`` list.
        a, b: the two prediction dicts (path, relpath, label, prob, predicted, correct, loss).
    """

    key: str
    name: str
    label: str
    index_a: int
    index_b: int
    a: dict[str, Any]
    b: dict[str, Any]

    @property
    def cell(self) -> str:
        """The agreement cell: ``both_right``, ``both_wrong``, ``only_a`` or ``only_b``."""
        ca, cb = bool(self.a["correct"]), bool(self.b["correct"])
        return "both_right" if ca and cb else "both_wrong" if not (ca or cb) else "only_a" if ca else "only_b"

    def matches(self, key: str) -> bool:
        """Whether ``key`` names this sample (either absolute path, the manifest path or the file name)."""
        return key in (self.key, self.b["path"], self.a.get("relpath"), self.b.get("relpath"), self.name)


@dataclass
class Pairing:
    """Two runs' predictions on the test images they share, in a fixed order.

    Attributes:
        pairs: one :class:`Pair` per shared image, sorted by manifest path.
        same_manifest: whether the runs' split manifests have the same sha256.
        by: what images were matched on: ``"manifest path"`` (same manifest) or ``"image path"``.
        only_in_a, only_in_b: test images only one of the runs has.
        k: the number of classes (from the rows' ``probs``); for K > 2 the cells include :data:`SPLIT_CELLS`.
    """

    pairs: list[Pair]
    same_manifest: bool
    by: str
    only_in_a: int = 0
    only_in_b: int = 0
    k: int = 2
    _cells: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._cells = agreement_cells(self.correct_a, self.correct_b)
        if self.k > 2:
            wrong = self._cells["both_wrong"]
            same = np.array([self.pairs[i].a["predicted"] == self.pairs[i].b["predicted"] for i in wrong], bool)
            self._cells["both_wrong_same"] = wrong[same] if wrong.size else wrong
            self._cells["both_wrong_different"] = wrong[~same] if wrong.size else wrong

    @property
    def cell_names(self) -> tuple[str, ...]:
        """The agreement cells: :data:`~cvd_explorer.stats.AGREEMENT_CELLS`, plus :data:`SPLIT_CELLS` for K > 2."""
        return AGREEMENT_CELLS + (SPLIT_CELLS if self.k > 2 else ())

    @property
    def correct_a(self) -> np.ndarray:
        """bool ``(N,)``: run A right, per pair."""
        return np.array([bool(p.a["correct"]) for p in self.pairs], dtype=bool)

    @property
    def correct_b(self) -> np.ndarray:
        """bool ``(N,)``: run B right, per pair."""
        return np.array([bool(p.b["correct"]) for p in self.pairs], dtype=bool)

    def counts(self) -> dict[str, int]:
        """Pairs per cell of :attr:`cell_names` ("all" included)."""
        return {cell: int(len(self._cells[cell])) for cell in self.cell_names}

    def cell(self, name: str) -> list[Pair]:
        """Pairs of one agreement cell, in pairing order."""
        if name not in self.cell_names:
            raise ValueError(f"agreement must be one of {self.cell_names}, got {name!r}")
        return [self.pairs[i] for i in self._cells[name]]

    def shared_note(self, name_a: str = "A", name_b: str = "B") -> str:
        """"" for the same test set, else a sentence saying only shared images are compared."""
        if self.same_manifest:
            return ""
        return (
            f"The two runs were trained on different splits (manifest hashes differ): compared on the "
            f"{len(self.pairs):,} test images they share only ({self.only_in_a:,} only in {name_a}'s test "
            f"split, {self.only_in_b:,} only in {name_b}'s)."
        )


def manifest_hash(run: Any) -> str | None:
    """sha256 of the run's split manifest, from its ``config.json``; None when not recorded."""
    return (run.meta.get("manifest") or {}).get("sha256")


def pair_predictions(
    rows_a: Sequence[dict[str, Any]], rows_b: Sequence[dict[str, Any]], same_manifest: bool
) -> Pairing:
    """Pair two runs' prediction rows on the images they share.

    With the same manifest the images are the same by construction and are matched on their
    manifest path (so two copies of the data in different folders still pair); otherwise on the
    absolute image path, and only the shared images are kept.

    Args:
        rows_a, rows_b: :attr:`cvd_explorer.runs.Run.predictions` lists.
        same_manifest: whether the manifests' sha256 are equal.
    """
    by = "manifest path" if same_manifest else "image path"

    def key(row: dict[str, Any]) -> str:
        return str(row.get("relpath") or row["path"]) if same_manifest else str(row["path"])

    index_a = {key(r): i for i, r in enumerate(rows_a)}
    index_b = {key(r): i for i, r in enumerate(rows_b)}
    shared = sorted(index_a.keys() & index_b.keys())
    pairs = []
    for k in shared:
        ia, ib = index_a[k], index_b[k]
        a, b = rows_a[ia], rows_b[ib]
        if a["label"] != b["label"]:
            raise ValueError(
                f"{k}: run A labels it {a['label']!r} and run B {b['label']!r}; the runs disagree on the data"
            )
        pairs.append(Pair(str(a["path"]), PurePath(str(a["path"])).name, str(a["label"]), ia, ib, a, b))
    n_classes = max([2, *(len(r.get("probs") or ()) for r in (*rows_a[:1], *rows_b[:1]))])
    return Pairing(pairs, same_manifest, by, len(index_a.keys() - index_b.keys()),
                   len(index_b.keys() - index_a.keys()), n_classes)


def order_pairs(pairs: Sequence[Pair]) -> list[Pair]:
    """Disagreements first (only A right, only B right), then both wrong, then both right; by name within."""
    return sorted(pairs, key=lambda p: (_CELL_ORDER[p.cell], p.name, p.key))


@dataclass(frozen=True)
class PairedStats:
    """Accuracy with 95% CI of each run (overall and per class), a confusion matrix each, McNemar's test and
    the shared mistakes, on shared images.

    Attributes:
        accuracy_a, accuracy_b: Wilson intervals.
        confusion_a, confusion_b: int64 ``(K, K)``: row = true class, column = predicted, in ``classes`` order.
        classes: the K class names (for two classes ``(negative, positive)``).
        mcnemar: the paired test.
        per_class_a, per_class_b: ``{class: Wilson interval of that class's accuracy}``, None for a class
            with no shared image, in ``classes`` order.
        shared: the both-wrong images split by whether the two runs predicted the same wrong class.
    """

    accuracy_a: Interval
    accuracy_b: Interval
    confusion_a: np.ndarray
    confusion_b: np.ndarray
    classes: tuple[str, ...]
    mcnemar: McNemar
    per_class_a: dict[str, Interval | None] = field(default_factory=dict)
    per_class_b: dict[str, Interval | None] = field(default_factory=dict)
    shared: SharedMistakes = SharedMistakes(0, 0)


def check_classes(classes_a: Sequence[str], classes_b: Sequence[str], name_a: str = "A", name_b: str = "B") -> None:
    """ValueError naming both class lists when two runs do not classify into the same classes in the same order."""
    if tuple(classes_a) != tuple(classes_b):
        raise ValueError(
            f"{name_a} has the classes {list(classes_a)} and {name_b} {list(classes_b)}: Compare needs two runs "
            "with the same classes in the same order (train or import both on the same manifest)"
        )


def paired_stats(pairing: Pairing, classes: tuple[str, ...]) -> PairedStats:
    """Statistics of a pairing with at least one pair (ValueError otherwise), for K >= 2 ``classes``."""
    if not pairing.pairs:
        raise ValueError("the two runs share no test image: nothing to compare")
    labels = [p.label for p in pairing.pairs]
    predicted_a = [str(p.a["predicted"]) for p in pairing.pairs]
    predicted_b = [str(p.b["predicted"]) for p in pairing.pairs]
    return PairedStats(
        accuracy_interval(pairing.correct_a),
        accuracy_interval(pairing.correct_b),
        confusion_matrix(labels, predicted_a, classes),
        confusion_matrix(labels, predicted_b, classes),
        tuple(classes),
        mcnemar(pairing.correct_a, pairing.correct_b),
        per_class_accuracy(labels, predicted_a, classes),
        per_class_accuracy(labels, predicted_b, classes),
        shared_mistakes(predicted_a, predicted_b, labels),
    )


def run_metrics(run: Any) -> dict[str, float | int | None]:
    """The results-table values of one run.

    From ``summary.json`` when the run finished; otherwise the training columns come from the
    completed epochs in ``history.csv`` and the test columns are None.
    """
    summary = run.summary or {}
    history = run.history
    values: dict[str, float | int | None] = {}
    for key, _label, _better in TABLE_METRICS:
        value = summary.get(key)
        if value is None:
            value = _from_history(key, history)
        values[key] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
    return values


def results_table(run_a: Any, run_b: Any) -> list[dict[str, Any]]:
    """The reference study's table for both runs, one dict per metric.

    Returns:
        Rows ``{"key": "max_val_accuracy", "metric": "max validation accuracy", "a": 0.94,
        "b": 0.93, "better": "a"}``; ``"a"``/``"b"`` are None where the run has no value yet,
        ``"better"`` is ``"a"``, ``"b"``, ``"tie"`` or None.
    """
    ma, mb = run_metrics(run_a), run_metrics(run_b)
    rows = []
    for key, label, better in TABLE_METRICS:
        a, b = ma[key], mb[key]
        winner = None
        if better and a is not None and b is not None:
            winner = "tie" if a == b else ("a" if (a > b) == (better == "max") else "b")
        rows.append({"key": key, "metric": label, "a": a, "b": b, "better": winner})
    return rows


# The results table's one formatter under the name the study notebooks use (01, 03).
format_value = format_result


def missing_predictions(run: Any) -> str:
    """Why a run without predictions has none, in words."""
    state = run.state
    if state == "running":
        status = run.status
        return (f"{run.name}: training in progress (epoch {status.get('epoch', '?')}/{status.get('epochs', '?')}); "
                "its test predictions are written when training ends")
    return f"{run.name}: no test predictions yet (state {state}); run `cvd-explorer evaluate {run.path}`"


def _from_history(key: str, history: Sequence[dict[str, float]]) -> float | int | None:
    if key == "epochs":
        return len(history) if history else None
    columns: dict[str, tuple[str, Callable[[list[float]], float]]] = {
        "max_train_accuracy": ("accuracy", max), "min_train_loss": ("loss", min),
        "max_val_accuracy": ("val_accuracy", max), "min_val_loss": ("val_loss", min),
        "images_per_s": ("images_per_s", lambda xs: sum(xs) / len(xs)),
    }
    column = columns.get(key)
    if column is None:
        return None
    name, reduce = column
    values = [
        float(row[name]) for row in history if isinstance(row.get(name), (int, float)) and math.isfinite(row[name])
    ]
    return float(reduce(values)) if values else None
