"""Leakage: test images that have a copy in train or validation (the scan's duplicate groups)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cvd_explorer.data.duplicates import DuplicateGroup
from cvd_explorer.data.split import Manifest


@dataclass(frozen=True)
class LeakageReport:
    """How a split and a set of duplicate groups disagree.

    Attributes:
        test_images_with_copy_elsewhere: Test images with a copy in train or val.
        val_images_with_copy_in_train: Validation images with a copy in train.
        groups_across_splits: The groups (restricted to the manifest's images) spread over
            more than one split, sorted by first path.
    """

    test_images_with_copy_elsewhere: int
    val_images_with_copy_in_train: int
    groups_across_splits: tuple[DuplicateGroup, ...]

    @property
    def leaking(self) -> bool:
        """Whether any group spans more than one split."""
        return bool(self.groups_across_splits)

    def to_json(self) -> dict[str, Any]:
        """Counts and the groups that span splits."""
        return {
            "test_images_with_copy_elsewhere": self.test_images_with_copy_elsewhere,
            "val_images_with_copy_in_train": self.val_images_with_copy_in_train,
            "groups_across_splits": [g.to_json() for g in self.groups_across_splits],
        }


def leakage(manifest: Manifest, duplicates: Sequence[DuplicateGroup]) -> LeakageReport:
    """Which duplicate groups a manifest splits (paths outside the manifest are left out).

    Args:
        manifest: The split.
        duplicates: Groups from :func:`cvd_explorer.data.scan.scan` (``ScanResult.duplicates``).

    Returns:
        The :class:`LeakageReport` (all zero for a split made by :func:`make_split` on that scan).
    """
    split_of = {row.path: row.split for row in manifest.rows}
    test_leaks = val_leaks = 0
    spread: list[DuplicateGroup] = []
    for group in duplicates:
        paths = tuple(p for p in group.paths if p in split_of)
        splits = {split_of[p] for p in paths}
        if len(splits) < 2:
            continue
        spread.append(DuplicateGroup(group.kind, paths, group.similarity))
        if splits & {"train", "val"}:
            test_leaks += sum(1 for p in paths if split_of[p] == "test")
        if "train" in splits:
            val_leaks += sum(1 for p in paths if split_of[p] == "val")
    spread.sort(key=lambda g: g.paths[0])
    return LeakageReport(test_leaks, val_leaks, tuple(spread))
