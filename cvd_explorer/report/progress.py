"""Counting the report's steps and announcing each one to a progress callback."""

from __future__ import annotations

from cvd_explorer.report.blocks import ProgressFn


class Steps:
    """Announces steps ``[k/total]`` to ``callback(k, total, label)`` (nothing when it is None)."""

    def __init__(self, total: int, callback: ProgressFn | None) -> None:
        self.total = int(total)
        self.done = 0
        self._callback = callback

    def next(self, label: str) -> None:
        """Announce the next step (called before its work starts)."""
        self.done += 1
        if self._callback is not None:
            self._callback(self.done, self.total, label)


def run_steps(metrics: bool) -> int:
    """Steps of one run's section: curves+table, feature maps, Grad-CAM samples, Grad-CAM across
    depth, confusion matrix, and the explanation metrics when asked for."""
    return 6 if metrics else 5


def print_to_stderr(step: int, total: int, label: str) -> None:
    """The CLI's callback: ``[3/12] Grad-CAM across depth: run (resnet-mini)`` on stderr."""
    import sys

    print(f"[{step}/{total}] {label}", file=sys.stderr, flush=True)
