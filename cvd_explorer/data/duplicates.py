"""Group images that are copies of one another: ``exact`` (same pixels) and ``near`` (re-encoded, resized).

Input: one :class:`~cvd_explorer.data.fingerprint.Fingerprint` per image (the scan computes it
on the decode it does anyway). Steps:

1. ``exact``: images with equal pixel keys form one class; one representative per class goes on.
2. Candidates: pairs of representatives whose 64-bit perceptual hashes differ in at most
   :data:`NEAR_HAMMING` bits. Found without comparing every pair (25,000 images would be 312
   million pairs) by *multi-index hashing*: the 64 bits are cut into ``NEAR_HAMMING + 1`` bands;
   two hashes within ``NEAR_HAMMING`` bits agree exactly on at least one band (pigeonhole), so
   only images sharing a band value are compared: about ``bands * N**2 / 2**band_bits`` pairs,
   some 20 million vectorised XOR-popcounts for 25,000 images, a fraction of a second.
   (A BK-tree would visit most of its nodes at this radius; sorting by a prefix alone misses
   pairs that differ in the prefix.)
3. Confirmation: a candidate pair is a near duplicate only if the two 32x32 grey thumbnails
   agree: the 99th percentile of their absolute difference is at most :data:`CONFIRM_P99` grey
   levels. Re-encoding (JPEG quality 60), halving the size or recompressing moves it by at most
   11 levels (16 for a copy at a third of the size); two different scenes on the same
   background, even a cat and a dog drawn with the same colours and pose, differ by 37 or more
   where the animals differ (measured on 40 synthetic scenes at 128 and 400 px;
   tests/unit/test_scan.py holds both sides with a margin). The reported ``similarity`` is the Pearson
   correlation of the two thumbnails (1.0 for identical ones).
4. Groups: connected components over exact classes and confirmed pairs; a group is ``exact``
   when all its images have the same pixels, else ``near`` with the lowest similarity of the
   pairs that joined it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cvd_explorer.data.fingerprint import PHASH_BITS

NEAR_HAMMING = 8
"""Largest perceptual-hash distance (bits of 64) of a candidate pair; planted copies measure <= 4."""
CONFIRM_P99 = 24.0
"""Largest 99th percentile of the thumbnails' absolute difference (grey levels) of a near duplicate."""
KINDS = ("exact", "near")
_BLOCK = 1024  # rows per block when comparing a large bucket with itself


@dataclass(frozen=True)
class DuplicateGroup:
    """Images that are copies of one another.

    Attributes:
        kind: ``"exact"`` (same decoded pixels) or ``"near"`` (re-encoded, resized, ...).
        paths: The images' paths, sorted (at least two).
        similarity: Lowest thumbnail correlation within the group (1.0 for ``exact``).
    """

    kind: str
    paths: tuple[str, ...]
    similarity: float

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "paths", "similarity"}`` (the ``scan --json`` entry)."""
        return {"kind": self.kind, "paths": list(self.paths), "similarity": round(self.similarity, 4)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DuplicateGroup:
        """Inverse of :meth:`to_json`."""
        return cls(str(data["kind"]), tuple(str(p) for p in data["paths"]), float(data["similarity"]))


def _bands(bits: int = PHASH_BITS, bands: int = NEAR_HAMMING + 1) -> list[tuple[int, int]]:
    """``(shift, width)`` of ``bands`` bit ranges covering ``bits`` bits, as equal as possible."""
    widths = [bits // bands + (1 if i < bits % bands else 0) for i in range(bands)]
    shifts = np.cumsum([0, *widths[:-1]])
    return [(int(s), w) for s, w in zip(shifts, widths, strict=True)]


def candidate_pairs(hashes: NDArray[np.uint64], max_distance: int = NEAR_HAMMING) -> set[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, whose hashes differ in at most ``max_distance`` bits.

    Multi-index hashing (see the module doc): exact, never misses a pair, never compares two
    hashes that share no band.

    Args:
        hashes: ``(N,)`` uint64 perceptual hashes.
        max_distance: Largest Hamming distance kept.
    """
    pairs: set[tuple[int, int]] = set()
    n = len(hashes)
    if n < 2:
        return pairs
    for shift, width in _bands(PHASH_BITS, max_distance + 1):
        keys = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], n]
        for start, end in zip(starts, ends, strict=True):
            if end - start < 2:
                continue
            members = order[start:end]
            pairs.update(_close_pairs(hashes, members, max_distance))
    return pairs


def _close_pairs(hashes: NDArray[np.uint64], members: NDArray[np.intp], max_distance: int) -> list[tuple[int, int]]:
    """Pairs within ``members`` (one bucket) at most ``max_distance`` bits apart."""
    found: list[tuple[int, int]] = []
    values = hashes[members]
    for lo in range(0, len(members), _BLOCK):
        block = values[lo : lo + _BLOCK]
        distance = np.bitwise_count(block[:, None] ^ values[None, lo:])
        rows, cols = np.nonzero(distance <= max_distance)
        keep = cols > rows  # cols are offsets from lo: upper triangle only
        for r, c in zip(rows[keep], cols[keep], strict=True):
            a, b = int(members[lo + r]), int(members[lo + c])
            found.append((a, b) if a < b else (b, a))
    return found


def thumb_similarity(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> tuple[float, float]:
    """``(p99, correlation)`` of two grey thumbnails: 99th percentile of ``|a - b|``, Pearson r.

    The correlation of two flat thumbnails is 1.0 when they are equal, else 0.0.
    """
    fa, fb = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    p99 = float(np.percentile(np.abs(fa - fb), 99))
    sa, sb = fa.std(), fb.std()
    if sa == 0 or sb == 0:
        return p99, 1.0 if np.array_equal(fa, fb) else 0.0
    r = float(np.mean((fa - fa.mean()) * (fb - fb.mean())) / (sa * sb))
    return p99, min(1.0, r)


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def find_duplicates(
    prints: Iterable[tuple[str, str, int]],
    thumb_of: Callable[[str], NDArray[np.uint8] | None],
) -> list[DuplicateGroup]:
    """Group copies among images given by their fingerprints.

    Args:
        prints: ``(path, pixel key, perceptual hash)`` per image (paths unique).
        thumb_of: The ``(32, 32)`` uint8 thumbnail of a path, called only for candidate pairs;
            None when the image can no longer be read (the pair is then not confirmed).

    Returns:
        The groups, each with sorted paths, sorted by their first path.
    """
    items = sorted(prints)
    paths = [p for p, _, _ in items]
    union = _Union(len(items))
    by_key: dict[str, int] = {}
    reps: list[int] = []
    for i, (_, key, _) in enumerate(items):
        first = by_key.setdefault(key, i)
        if first == i:
            reps.append(i)
        else:
            union.join(first, i)
    hashes = np.array([items[i][2] for i in reps], dtype=np.uint64)
    lowest: dict[int, float] = {}  # component root -> lowest similarity of its near pairs
    thumbs: dict[str, NDArray[np.uint8] | None] = {}

    def thumb(path: str) -> NDArray[np.uint8] | None:
        if path not in thumbs:
            thumbs[path] = thumb_of(path)
        return thumbs[path]

    confirmed: list[tuple[int, int, float]] = []
    for a, b in sorted(candidate_pairs(hashes)):
        ia, ib = reps[a], reps[b]
        ta, tb = thumb(paths[ia]), thumb(paths[ib])
        if ta is None or tb is None:
            continue
        p99, r = thumb_similarity(ta, tb)
        if p99 <= CONFIRM_P99:
            confirmed.append((ia, ib, r))
    for ia, ib, _ in confirmed:
        union.join(ia, ib)
    for ia, _, r in confirmed:
        root = union.find(ia)
        lowest[root] = min(lowest.get(root, 1.0), r)

    members: dict[int, list[int]] = {}
    for i in range(len(items)):
        members.setdefault(union.find(i), []).append(i)
    groups = []
    for root, idx in members.items():
        if len(idx) < 2:
            continue
        exact = len({items[i][1] for i in idx}) == 1
        similarity = 1.0 if exact else round(lowest[root], 4)
        groups.append(DuplicateGroup("exact" if exact else "near", tuple(paths[i] for i in idx), similarity))
    groups.sort(key=lambda g: g.paths[0])
    return groups
