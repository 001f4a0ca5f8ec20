"""``Run``: read a run directory, finished or still training, here or copied elsewhere."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import RunError
from cvd_explorer.runs import files, folder
from cvd_explorer.runs.folder import HistoryRow, Prediction
from cvd_explorer.runs.liveness import STALE_SECONDS, status_alive

if TYPE_CHECKING:
    from cvd_explorer.data.split import Manifest

__all__ = ["STALE_SECONDS", "Run"]


class Run:
    """A training run directory (see docs/run-directory.md).

    Everything except ``meta``/``config``/``manifest`` is re-read on each access, so a Run of a
    training in progress shows its latest completed epoch.

    Args:
        path: the run directory.
        data_root: folder holding the images, when the run was copied to another machine
            (default: the data root recorded in ``config.json``).
    """

    def __init__(self, path: str | os.PathLike[str], data_root: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser().absolute()
        if not (self.path / files.CONFIG).is_file():
            raise RunError(
                f"{self.path} is not a run directory (no {files.CONFIG}); create one with `cvd-explorer train`"
            )
        self._data_root = Path(data_root).expanduser().absolute() if data_root is not None else None
        self._meta: dict[str, Any] | None = None
        self._manifest: Manifest | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, state={self.state!r})"

    @property
    def name(self) -> str:
        """The run folder's name."""
        return self.path.name

    @property
    def meta(self) -> dict[str, Any]:
        """The whole ``config.json`` dict (schema_version, config, versions, data_root, ...)."""
        if self._meta is None:
            self._meta = folder.read_meta(self.path)
        return self._meta

    @property
    def config(self) -> TrainConfig:
        """The run's :class:`TrainConfig` (an imported model's: an
        :class:`~cvd_explorer.runs.imported_meta.ImportedConfig`, arch "imported", 0 epochs)."""
        if self.imported:
            from cvd_explorer.runs.imported_meta import imported_config

            return imported_config(self.meta, self.path)
        return folder.config_of(self.meta, self.path)

    @property
    def imported(self) -> bool:
        """Whether the run is a model brought by ``cvd-explorer import`` (no training, no history)."""
        from cvd_explorer.runs.imported_meta import is_imported

        return is_imported(self.meta)

    @property
    def classes(self) -> tuple[str, ...]:
        """The K class names in index order (for two classes ``(negative, positive)``)."""
        return tuple(str(name) for name in self.meta["classes"])

    @property
    def positive(self) -> str:
        """Name of the positive class of a two-class run (its model outputs P(positive)).

        Raises:
            RunError: the run has K > 2 classes (a softmax head has no positive class).
        """
        if len(self.classes) != 2:
            raise RunError(f"{self.path} has {len(self.classes)} classes: a K-class run has no positive class")
        return str(self.meta.get("positive", self.classes[1]))

    @property
    def data_root(self) -> Path:
        """Folder the manifest's relative image paths start from."""
        return self._data_root if self._data_root is not None else Path(self.meta["data_root"])

    @property
    def manifest(self) -> Manifest:
        """The run's copy of the split manifest (:class:`cvd_explorer.data.split.Manifest`)."""
        if self._manifest is None:
            from cvd_explorer.data.split import read_manifest

            self._manifest = read_manifest(self.path / files.MANIFEST)
        return self._manifest

    def image_path(self, relpath: str) -> Path:
        """Absolute path of an image given by its manifest path (relative, posix)."""
        return self.data_root / relpath

    @property
    def history(self) -> list[HistoryRow]:
        """Completed epochs in order: dicts with the keys of ``files.HISTORY_COLUMNS``.

        ``epoch`` is an int counted from 1, the rest are floats (NaN where missing).
        """
        return folder.read_history(self.path)

    def curve(self, column: str) -> np.ndarray:
        """One history column as float64 ``(epochs,)`` (e.g. ``"val_accuracy"``; NaN where missing)."""
        if column not in files.HISTORY_COLUMNS:
            raise RunError(f"history has no column {column!r}; columns: {', '.join(files.HISTORY_COLUMNS)}")
        return np.array([row[column] for row in self.history], dtype=np.float64)

    @property
    def summary(self) -> dict[str, Any] | None:
        """``summary.json`` (the study's table plus epochs, images/s, device), or None before the end."""
        return folder.read_summary(self.path)

    @property
    def model_info(self) -> dict[str, Any] | None:
        """``model.json``: sha256, epoch and val_accuracy of the best checkpoint, or None."""
        return folder.read_model_info(self.path)

    @property
    def predictions(self) -> list[Prediction] | None:
        """Test-split predictions of the best checkpoint, or None when not computed yet.

        Each row: ``path`` (absolute image path, resolved against ``data_root``), ``relpath``
        (as in the manifest), ``label`` and ``predicted`` (class names), ``prob`` (float,
        P(positive) for two classes, the predicted class's probability for K > 2), ``probs``
        (K floats in class order), ``correct`` (bool), ``loss`` (float, per-image cross-entropy).
        """
        return folder.read_predictions(self.path, self.data_root, self.classes)

    @property
    def status(self) -> dict[str, Any]:
        """``status.json`` (state, pid, heartbeat, epoch, step, ...); ``{"state": "new"}`` if absent."""
        status = folder.read_status(self.path)
        return status if status is not None else {"state": "new"}

    @property
    def state(self) -> str:
        """"running", "finished", "failed", "stopped", "new", or "interrupted" for a run whose
        status says running but whose process is gone (see :func:`~cvd_explorer.runs.liveness.status_alive`:
        dead on this host, or silent for STALE_SECONDS on another)."""
        status = self.status
        state = str(status.get("state", "new"))
        if state == "running" and not status_alive(status):
            return "interrupted"
        return state

    def request_stop(self) -> None:
        """Ask a training in progress to stop gracefully after its current batch."""
        folder.request_stop(self.path)

    def load_model(self, compile: bool = False) -> Any:
        """The best checkpoint (``model.keras``) loaded in Keras' safe mode.

        The file's sha256 must equal the one in ``model.json``; Lambda layers, unknown custom
        objects and legacy ``.h5`` files are refused (:class:`RunError`). An imported model comes
        wrapped (:func:`cvd_explorer.runs.imported_model.wrap`): RGB 0-255 in, probabilities out,
        the user's model nested inside.
        """
        model = self._load_checkpoint(compile)
        if not self.imported:
            return model
        from cvd_explorer.runs.imported_meta import imported_info
        from cvd_explorer.runs.imported_model import wrap

        return wrap(model, imported_info(self.meta, self.path))

    def _load_checkpoint(self, compile: bool) -> Any:
        from cvd_explorer.runs.safe_load import load_model_file

        model_path = self.path / files.MODEL
        for attempt in range(3):
            info = self.model_info
            if info is None or not model_path.is_file():
                raise RunError(f"{self.path} has no model yet: the first epoch has not finished")
            try:
                return load_model_file(model_path, info.get("sha256"), compile=compile)
            except RunError as exc:
                # model.keras and model.json are replaced one after the other while training;
                # a reader can fall between the two. Retry then, otherwise report the change.
                if "changed since" not in str(exc) or self.status.get("state") != "running" or attempt == 2:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")
