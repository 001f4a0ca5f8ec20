"""Training runs: ``train`` writes a run directory, ``Run`` reads one (docs/run-directory.md)."""

from __future__ import annotations

from cvd_explorer.runs.run import Run
from cvd_explorer.runs.train import train

__all__ = ["Run", "train"]
