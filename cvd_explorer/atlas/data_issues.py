"""Data issues beyond label errors, by cleanlab's Datalab on the atlas' pooled features and out-of-sample
probabilities: outliers, near-duplicates and non-IID order.

- Datalab sees the features' unit rows reduced to at most 50 principal components (cosine geometry, and
  25,000 images take seconds rather than minutes), plus one coordinate: each image's distance from that
  subspace, so an image unlike all others (whose direction the components drop) still stands out.
- Near-duplicates that the scan already grouped (the same ``group`` in ``images.csv``) are the tool's own
  duplicates, reported by the scan and the leakage check: an image is listed here only when one of its
  Datalab near-duplicates lies outside its scan group.
- Non-IID is tested within each true class, in the split's order: manifests list a split class by class,
  which alone would make any split look non-IID. Each class gets Datalab's p-value.
- Scores are Datalab's: in [0, 1], lower is more severe.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvd_explorer.atlas.embed import PCA_DIMS, SEED, reduce
from cvd_explorer.atlas.similar import unit_rows

ISSUE_TYPES = ("outlier", "near_duplicate", "non_iid")
TOP = 50
NON_IID_MIN_IMAGES = 20
NEIGHBOURS = 10
METRIC = "euclidean"
"""On unit rows, Euclidean distance orders neighbours as the cosine does; on their centred principal
components only the Euclidean one is meaningful."""


@dataclass(frozen=True)
class IssueList:
    """One issue type on one split.

    Attributes:
        flagged: int ``(M,)`` indices Datalab flags, most severe first.
        scores: float32 ``(N,)`` every image's score (lower is more severe).
        p_values: for ``non_iid``, ``{class: p}`` of each class tested; else empty.
    """

    flagged: np.ndarray
    scores: np.ndarray
    p_values: dict[str, float] = field(default_factory=dict)

    def to_json(self, paths: Sequence[str], top: int = TOP) -> dict[str, Any]:
        """``{"count", "paths", "scores"}`` (the ``top`` most severe flagged images), plus ``p_values``."""
        shown = self.flagged[:top].tolist()
        entry: dict[str, Any] = {"count": int(self.flagged.size), "paths": [paths[i] for i in shown],
                                 "scores": [round(float(self.scores[i]), 6) for i in shown]}
        if self.p_values:
            entry["p_values"] = dict(self.p_values)
        return entry


def find_data_issues(features: np.ndarray, labels: np.ndarray, probs: np.ndarray, classes: Sequence[str],
                     scan_groups: Sequence[str], components: np.ndarray | None = None) -> dict[str, IssueList]:
    """Every type of :data:`ISSUE_TYPES` for one split.

    Args:
        features: ``(N, D)`` pooled features; labels: int ``(N,)`` true class indices;
        probs: ``(N, K)`` out-of-sample probabilities; scan_groups: ``(N,)`` each image's duplicate group
            from the scan ("" for none).
        components: the unit rows' principal components (``embed.reduce(unit_rows(features))``), when
            already computed (the slices use the same).
    """
    x = reduced(features, components=components)
    labels = np.asarray(labels, np.int64)
    n = len(x)
    empty = IssueList(np.zeros(0, np.int64), np.ones(n, np.float32))
    if n < 3:
        return {name: empty for name in ISSUE_TYPES}
    k = min(NEIGHBOURS, n - 1)  # Datalab's default k, fewer on a tiny split (it refuses k >= N)
    lab = _datalab(labels, x, probs, {"outlier": {"metric": METRIC, "k": k},
                                      "near_duplicate": {"metric": METRIC, "k": k}})
    found = {"outlier": _issue_list(lab.get_issues("outlier"), "outlier")}
    near = lab.get_issues("near_duplicate")
    found["near_duplicate"] = _new_near_duplicates(near, scan_groups)
    found["non_iid"] = _non_iid(x, labels, probs, classes)
    return found


def reduced(features: np.ndarray, dims: int = PCA_DIMS, components: np.ndarray | None = None) -> np.ndarray:
    """float32 ``(N, dims + 1)``: the unit rows' first principal components and the residual norm (the rows
    themselves when there are at most ``dims`` features or images)."""
    unit = unit_rows(features)
    if unit.shape[1] <= dims or len(unit) <= dims:
        return unit
    z = components if components is not None else reduce(unit, SEED, dims)
    centred = unit - unit.mean(axis=0, keepdims=True)
    residual = np.sqrt(np.maximum((centred**2).sum(axis=1) - (z**2).sum(axis=1), 0.0))
    return np.concatenate([z, residual[:, None]], axis=1).astype(np.float32)


def _datalab(labels: np.ndarray, x: np.ndarray, probs: np.ndarray | None, types: dict[str, Any]) -> Any:
    """A Datalab that has run ``types`` (fresh dicts: cleanlab stores its neighbour graph in them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cleanlab import Datalab

        lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
        lab.find_issues(features=x, pred_probs=probs, issue_types=types)
    return lab


def _issue_list(table: Any, name: str) -> IssueList:
    scores = table[f"{name}_score"].to_numpy(np.float32)
    flagged = np.flatnonzero(table[f"is_{name}_issue"].to_numpy(bool))
    return IssueList(flagged[np.argsort(scores[flagged], kind="stable")], scores)


def _new_near_duplicates(table: Any, scan_groups: Sequence[str]) -> IssueList:
    listed = _issue_list(table, "near_duplicate")
    sets = table["near_duplicate_sets"].tolist()
    groups = list(scan_groups)

    def known(i: int) -> bool:
        return bool(groups[i]) and all(groups[int(j)] == groups[i] for j in sets[i])

    keep = np.array([i for i in listed.flagged.tolist() if not known(i)], np.int64)
    return IssueList(keep, listed.scores)


def _non_iid(x: np.ndarray, labels: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> IssueList:
    scores = np.ones(len(x), np.float32)
    flagged: list[int] = []
    p_values: dict[str, float] = {}
    for k, name in enumerate(classes):
        members = np.flatnonzero(labels == k)
        if members.size < NON_IID_MIN_IMAGES:
            continue
        lab = _datalab(labels[members], x[members], None, {"non_iid": {"metric": METRIC}})
        table = lab.get_issues("non_iid")
        scores[members] = table["non_iid_score"].to_numpy(np.float32)
        flagged += members[table["is_non_iid_issue"].to_numpy(bool)].tolist()
        p_values[name] = float(lab.get_info("non_iid")["p-value"])
    order = np.array(sorted(flagged, key=lambda i: (scores[i], i)), np.int64)
    return IssueList(order, scores, p_values)
