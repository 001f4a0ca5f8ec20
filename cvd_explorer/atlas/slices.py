"""Underperforming slices: groups of similar images where the model errs well above its overall rate.

Candidates come from k-means (scikit-learn, seeded) on the pooled features' unit rows reduced to at most
50 principal components, clustered twice: within each true class and across all classes. The number of
clusters grows with the group's size (:func:`cluster_count`); the unions of neighbouring clusters (a Ward tree over
their centres, :func:`merges`) are candidates too, so a group cut in two is also scored whole. Each
candidate of at least :data:`MIN_SIZE` images is scored by its error rate with a Wilson interval and a
one-sided exact binomial test against the overall error rate; Benjamini-Hochberg q-values correct for the number of
candidates tested. The slices are the candidates whose error rate is above the overall rate, ranked by
q-value and then by the excess error rate. A candidate is dropped when it mostly repeats a better-ranked slice:
nearly the same group (Jaccard overlap at least :data:`OVERLAP`), or a part of it (at least :data:`OVERLAP` of its
images lie in it) that errs no more than it; a part that errs more (the core of a wider group) stays.

cleanlab Datalab's ``underperforming_group`` check scores a single k-NN clustering of the same features
with one score per cluster and no test; the clusterings here cover it and add the statistics.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvd_explorer.atlas.embed import SEED, reduce
from cvd_explorer.atlas.similar import unit_rows

MIN_SIZE = 5
MAX_CLUSTERS = 30
OVERLAP = 0.8
MAX_SLICES = 20
ACROSS = "all classes"


def cluster_count(n: int) -> int:
    """Clusters for ``n`` images: about sqrt(n / 2), at least 2 and at most :data:`MAX_CLUSTERS`, and never
    more than fit :data:`MIN_SIZE` images each (0 when there are too few images to split)."""
    if n < 2 * MIN_SIZE:
        return 0
    return int(min(MAX_CLUSTERS, n // MIN_SIZE, max(2, round(math.sqrt(n / 2)))))


@dataclass(frozen=True)
class Slice:
    """One underperforming group of test images.

    Attributes:
        id: its rank, from 0; scope: the true class it was clustered within, or ``"all classes"``.
        indices: int64 ``(size,)`` rows of the atlas, in row order.
        interval: the error rate's 95% Wilson interval; p_value: one-sided binomial test against
            ``overall_error_rate``; q_value: Benjamini-Hochberg over every candidate tested.
        classes: ``{true class: images}`` in class order; mask_mass: the deepest map's mean mass inside
            the object mask, ``{"slice", "rest"}``, or None without masks.
    """

    id: int
    scope: str
    indices: np.ndarray
    errors: int
    error_rate: float
    interval: tuple[float, float]
    overall_error_rate: float
    p_value: float
    q_value: float
    classes: dict[str, int]
    mask_mass: dict[str, float] | None = field(default=None)

    @property
    def size(self) -> int:
        return int(self.indices.size)

    def to_json(self, paths: Sequence[str]) -> dict[str, Any]:
        """The ``summary["slices"]`` entry, with the images' ``paths`` (every value finite)."""
        return {
            "id": self.id, "scope": self.scope, "size": self.size,
            "paths": [paths[i] for i in self.indices.tolist()], "errors": self.errors,
            "error_rate": self.error_rate, "interval": list(self.interval),
            "overall_error_rate": self.overall_error_rate, "p_value": self.p_value, "q_value": self.q_value,
            "classes": dict(self.classes), "mask_mass": self.mask_mass,
        }


def candidates(features: np.ndarray, labels: np.ndarray, classes: Sequence[str],
               seed: int = SEED, components: np.ndarray | None = None) -> list[tuple[str, np.ndarray]]:
    """``(scope, indices)`` of every k-means cluster: within each class, then across all classes.

    Args:
        features: ``(N, D)`` pooled features; labels: int ``(N,)`` true class indices.
    """
    from sklearn.cluster import KMeans

    x = components if components is not None else reduce(unit_rows(features), seed)
    labels = np.asarray(labels, np.int64)
    groups = [(name, np.flatnonzero(labels == k)) for k, name in enumerate(classes)]
    groups.append((ACROSS, np.arange(len(x))))
    found: list[tuple[str, np.ndarray]] = []
    for scope, members in groups:
        k = cluster_count(members.size)
        if k < 2:
            continue
        kmeans = KMeans(k, n_init=3, random_state=seed).fit(x[members])
        clusters = [members[kmeans.labels_ == c] for c in range(k)]
        found += [(scope, c) for c in clusters + merges(kmeans.cluster_centers_, clusters) if c.size >= MIN_SIZE]
    return found


def merges(centres: np.ndarray, clusters: list[np.ndarray]) -> list[np.ndarray]:
    """The unions of neighbouring clusters: every inner node but the root of a Ward tree over their centres.

    A group the fixed number of clusters cut in two (the images that carry one cue, say) is whole again
    in one of them, and the test scores it with all its evidence.

    Args:
        centres: ``(k, d)`` cluster centres; clusters: the ``k`` clusters' int64 row indices.
    Returns:
        ``k - 2`` int64 index arrays, smallest merge first.
    """
    from scipy.cluster.hierarchy import linkage

    nodes = list(clusters)
    for a, b, _, _ in linkage(np.asarray(centres, np.float64), "ward")[:-1]:
        nodes.append(np.concatenate([nodes[int(a)], nodes[int(b)]]))
    return nodes[len(clusters):]


def find_slices(features: np.ndarray, labels: np.ndarray, correct: np.ndarray, classes: Sequence[str],
                mask_mass: np.ndarray | None = None, seed: int = SEED,
                components: np.ndarray | None = None) -> list[Slice]:
    """The underperforming slices, best first (at most :data:`MAX_SLICES`).

    Args:
        features: ``(N, D)``; labels: int ``(N,)`` true class indices; correct: bool ``(N,)``.
        mask_mass: float ``(N,)`` the deepest map's mass inside the mask, NaN where there is no mask.
    """
    from scipy.stats import binomtest, false_discovery_control

    wrong = ~np.asarray(correct, bool)
    n = wrong.size
    if n == 0 or not wrong.any():
        return []
    overall = float(wrong.mean())
    found = candidates(features, labels, classes, seed, components)
    if not found:
        return []
    errors = [int(wrong[members].sum()) for _, members in found]
    sizes = [members.size for _, members in found]
    tests = [binomtest(e, size, overall, alternative="greater") for e, size in zip(errors, sizes, strict=True)]
    q_values = false_discovery_control([t.pvalue for t in tests], method="bh")
    rate = [e / size for e, size in zip(errors, sizes, strict=True)]
    order = sorted((i for i in range(len(found)) if rate[i] > overall), key=lambda i: (q_values[i], -rate[i], i))
    kept: list[Slice] = []
    label_array = np.asarray(labels, np.int64)
    for i in order:
        scope, members = found[i]
        if any(_repeats(members, rate[i], s) for s in kept):
            continue
        ci = tests[i].proportion_ci(confidence_level=0.95, method="wilson")
        counts = Counter(label_array[members].tolist())
        kept.append(Slice(
            id=len(kept), scope=scope, indices=np.sort(members), errors=errors[i], error_rate=rate[i],
            interval=(float(ci.low), float(ci.high)), overall_error_rate=overall,
            p_value=float(tests[i].pvalue), q_value=float(q_values[i]),
            classes={classes[k]: counts[k] for k in range(len(classes)) if counts[k]},
            mask_mass=_mask_mass(mask_mass, members),
        ))
        if len(kept) == MAX_SLICES:
            break
    return kept


def slice_maps(thumbs: np.ndarray, piece: Slice, labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """float32 ``(2, h, w)``: the slice's mean unit-mass map, and that of the correct images of its most
    common true class outside it (zeros when there are none).

    Args:
        thumbs: ``(N, h, w)`` deepest-layer maps (any scale; all-zero maps are left out of the means).
    """
    maps = np.asarray(thumbs, np.float32)
    inside = np.zeros(len(maps), bool)
    inside[piece.indices] = True
    label_array = np.asarray(labels, np.int64)
    reference_label = np.bincount(label_array[piece.indices]).argmax()
    reference = (~inside) & np.asarray(correct, bool) & (label_array == reference_label)
    return np.stack([_mean_unit_mass(maps[inside]), _mean_unit_mass(maps[reference])])


def _mean_unit_mass(maps: np.ndarray) -> np.ndarray:
    mass = maps.sum(axis=tuple(range(1, maps.ndim)))
    keep = mass > 0
    if not keep.any():
        return np.zeros(maps.shape[1:], np.float32)
    return np.asarray((maps[keep] / mass[keep, None, None]).mean(axis=0), np.float32)


def _mask_mass(mask_mass: np.ndarray | None, members: np.ndarray) -> dict[str, float] | None:
    if mask_mass is None:
        return None
    values = np.asarray(mask_mass, np.float64)
    inside = np.zeros(values.size, bool)
    inside[members] = True
    slice_values, rest = values[inside & np.isfinite(values)], values[~inside & np.isfinite(values)]
    if slice_values.size == 0 or rest.size == 0:
        return None
    return {"slice": float(slice_values.mean()), "rest": float(rest.mean())}


def _repeats(members: np.ndarray, error_rate: float, better: Slice) -> bool:
    """Whether a candidate (rows ``members``) mostly repeats the better-ranked slice ``better``."""
    common = np.intersect1d(members, better.indices, assume_unique=True).size
    if common / (members.size + better.size - common) >= OVERLAP:
        return True
    return common / members.size >= OVERLAP and error_rate <= better.error_rate
