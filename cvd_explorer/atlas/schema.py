"""The atlas' record types, each written once: a row of ``images.csv`` (:class:`AtlasRow`), a streamed
chunk (:class:`Chunk`) and the mean-map groups (:func:`groups`), derived from the run's classes.

The on-disk layout is in docs/run-directory.md ("The atlas"); the depth curves are
:mod:`cvd_explorer.atlas.curves`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from cvd_explorer.atlas.mapstats import STAT_SIZE, STATISTICS

CORRECT, MISCLASSIFIED = "correct", "misclassified"
OUTCOMES = (CORRECT, MISCLASSIFIED)
"""An image's outcome, in the order of :func:`group_index`'s second digit."""


# ---------------------------------------------------------------------- groups
@dataclass(frozen=True)
class Group:
    """One mean-map group: the images of one true class with one outcome.

    Attributes:
        index: position in the groups axis (``label * len(OUTCOMES) + misclassified``).
        label: the true class; outcome: one of :data:`OUTCOMES`.
    """

    index: int
    label: str
    outcome: str

    @property
    def name(self) -> str:
        """``"<class>/<outcome>"``, e.g. ``"cat/misclassified"`` (as in ``mean_cams.npz``'s ``groups``)."""
        return f"{self.label}/{self.outcome}"


def groups(classes: Sequence[str]) -> list[Group]:
    """Every class x outcome group, in :func:`group_index` order."""
    return [Group(k * len(OUTCOMES) + j, name, outcome)
            for k, name in enumerate(classes) for j, outcome in enumerate(OUTCOMES)]


def group_names(classes: Sequence[str]) -> list[str]:
    """The names of :func:`groups`."""
    return [g.name for g in groups(classes)]


def group_index(labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """int64 ``(N,)`` group of each image from its true class index ``(N,)`` and bool ``correct`` ``(N,)``."""
    return np.asarray(labels, np.int64) * len(OUTCOMES) + (~np.asarray(correct, bool)).astype(np.int64)


# ---------------------------------------------------------------------- images.csv
_PARSE: dict[str, Any] = {"str": str, "float": float, "bool": lambda text: text == "1"}


@dataclass(frozen=True)
class AtlasRow:
    """One image of the atlas: a row of ``images.csv``, whose header is these fields in order.

    ``p`` is P(classes[1]) for two classes (``predictions.csv``'s ``prob``) and the predicted class's
    probability for K > 2 (the K probabilities are ``arrays.npz``'s ``probs``, :attr:`AtlasData.probs`).
    ``group`` names the image's duplicate group (``"d<k>"``, "" without copies); ``copy_elsewhere`` says
    that a copy of it lies in another split (leakage); ``label_score`` is cleanlab's label quality (lower
    is more suspicious) and ``suspect`` whether cleanlab lists it as a likely label error.
    """

    path: str
    label: str
    prediction: str
    p: float
    loss: float
    correct: bool
    x: float
    y: float
    group: str
    copy_elsewhere: bool
    label_score: float
    suspect: bool

    HEADER: ClassVar[tuple[str, ...]]

    def to_csv(self) -> list[str]:
        """The row's cells: floats with full precision (``nan`` for NaN), bools as ``1`` / ``0``."""
        return [_cell(getattr(self, name)) for name in self.HEADER]

    @classmethod
    def from_csv(cls, record: Mapping[str, str]) -> AtlasRow:
        """The row of a ``csv.DictReader`` record of ``images.csv``.

        Raises:
            KeyError, ValueError: a column is missing or a number does not parse.
        """
        return cls(**{name: parse(record[name]) for name, parse in _ROW_PARSERS})


AtlasRow.HEADER = tuple(f.name for f in fields(AtlasRow))
_ROW_PARSERS = tuple((f.name, _PARSE[str(f.type)]) for f in fields(AtlasRow))


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value) if not math.isnan(value) else "nan"
    return str(value)


# ---------------------------------------------------------------------- chunks
@dataclass(frozen=True)
class Chunk:
    """One batch of the atlas pass (``chunks/chunk-<start>.npz``), or several joined.

    Attributes:
        indices: int64 ``(n,)`` positions in the split of the images that loaded.
        logits: float32 ``(n,)`` logit of the positive class (two classes, one sigmoid unit), or ``(n, K)``
            the class logits of a K-unit softmax head.
        features: float16 ``(n, D)`` the head's input (``(0, 0)`` when no image loaded).
        thumbs: float16 ``(n, S, S)`` the deepest layer's map on the statistics grid, peak 1.
        has_mask: bool ``(n,)``.
        stats: ``{statistic: float32 (n, L)}`` for every name of :data:`~cvd_explorer.atlas.mapstats.STATISTICS`.
        block_sums: float64 ``(B, G, S, S)`` sums of unit-mass maps per block output and group.
        block_counts: int64 ``(B, G)`` images summed.
        failed: int64 ``(m,)`` positions of the images that did not load; failed_reason: str ``(m,)``.
    """

    indices: np.ndarray
    logits: np.ndarray
    features: np.ndarray
    thumbs: np.ndarray
    has_mask: np.ndarray
    stats: dict[str, np.ndarray]
    block_sums: np.ndarray
    block_counts: np.ndarray
    failed: np.ndarray
    failed_reason: np.ndarray

    ROWS: ClassVar[tuple[str, ...]] = ("indices", "logits", "features", "thumbs", "has_mask")
    """The per-image arrays besides ``stats``."""

    def __len__(self) -> int:
        return len(self.indices)

    @classmethod
    def empty(
        cls, n_layers: int, n_blocks: int, n_groups: int, failed: Iterable[tuple[int, str]] = ()
    ) -> Chunk:
        """A chunk without images (all of a batch failed to load: only the failures)."""
        s = STAT_SIZE
        bad = list(failed)
        return cls(
            indices=np.zeros(0, np.int64), logits=np.zeros(0, np.float32), features=np.zeros((0, 0), np.float16),
            thumbs=np.zeros((0, s, s), np.float16), has_mask=np.zeros(0, bool),
            stats={name: np.zeros((0, n_layers), np.float32) for name in STATISTICS},
            block_sums=np.zeros((n_blocks, n_groups, s, s)), block_counts=np.zeros((n_blocks, n_groups), np.int64),
            failed=np.asarray([i for i, _ in bad], np.int64), failed_reason=_reasons([r for _, r in bad]),
        )

    def to_npz(self) -> dict[str, np.ndarray]:
        """The arrays of the chunk file (statistics as ``stat_<name>``)."""
        out = {name: getattr(self, name) for name in self.ROWS}
        out.update({f"stat_{name}": values for name, values in self.stats.items()})
        out.update(block_sums=self.block_sums, block_counts=self.block_counts, failed=self.failed,
                   failed_reason=self.failed_reason)
        return out

    @classmethod
    def from_npz(cls, arrays: Mapping[str, np.ndarray]) -> Chunk:
        """The chunk of a file's arrays (:meth:`to_npz`). Raises KeyError when one is missing."""
        return cls(
            **{name: arrays[name] for name in cls.ROWS},
            stats={name: arrays[f"stat_{name}"] for name in STATISTICS},
            block_sums=arrays["block_sums"], block_counts=arrays["block_counts"],
            failed=arrays["failed"], failed_reason=arrays["failed_reason"],
        )

    @classmethod
    def join(cls, chunks: Iterable[Chunk], n_layers: int, n_blocks: int, n_groups: int) -> Chunk:
        """All chunks as one, rows sorted by position in the split, block sums added, failures listed."""
        total = cls.empty(n_layers, n_blocks, n_groups)
        full: list[Chunk] = []
        sums, counts = total.block_sums, total.block_counts
        failed: list[np.ndarray] = []
        reasons: list[np.ndarray] = []
        for chunk in chunks:
            if len(chunk):
                full.append(chunk)
            if n_blocks and len(chunk.block_sums):
                sums = sums + chunk.block_sums
                counts = counts + chunk.block_counts
            failed.append(chunk.failed.astype(np.int64))
            reasons.append(chunk.failed_reason)
        bad = (np.concatenate(failed) if failed else total.failed, _reasons([str(r) for part in reasons for r in part]))
        if not full:
            return cls(**{**_fields(total), "block_sums": sums, "block_counts": counts,
                          "failed": bad[0], "failed_reason": bad[1]})
        order = np.argsort(np.concatenate([c.indices for c in full]), kind="stable")
        rows = {name: np.concatenate([getattr(c, name) for c in full])[order] for name in cls.ROWS}
        stats = {name: np.concatenate([c.stats[name] for c in full])[order] for name in STATISTICS}
        return cls(**rows, stats=stats, block_sums=sums, block_counts=counts, failed=bad[0], failed_reason=bad[1])


def _fields(chunk: Chunk) -> dict[str, Any]:
    return {f.name: getattr(chunk, f.name) for f in fields(chunk)}


def _reasons(reasons: Sequence[str]) -> np.ndarray:
    return np.asarray(reasons, dtype=str) if reasons else np.zeros(0, dtype="<U1")
