"""May a training start, or resume, in a folder? One set of rules for the CLI, ``train`` and the panel.

:func:`check_run_folder` reads the folder and decides; it writes nothing. The rules:

* A folder holding a run (``config.json``) is resumed, never overwritten: without ``resume`` it
  is refused. On resume the config may differ from the recorded one only in ``epochs``, and
  ``epochs`` may not drop below the completed epochs; the run's ``manifest.csv`` must be the one
  it recorded; the data folder (given, else the recorded one) must exist.
* A folder without ``config.json`` may hold only the files of a start that did not get that far
  (``files.STARTUP_FILES``: manifest.csv, log.txt, status.json, STOP); anything else is the
  user's and the folder is refused. A new run needs a config and an existing data folder.
  (A training that starts removes a STOP file left there.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import CvdError, DataError, RunError
from cvd_explorer.runs import files
from cvd_explorer.runs.folder import completed_epochs, config_of, finished_all, read_last_state, read_meta
from cvd_explorer.runs.imported_meta import is_imported

if TYPE_CHECKING:
    from cvd_explorer.data.split import Manifest

Action = Literal["start", "resume", "refuse"]


@dataclass(frozen=True)
class FolderDecision:
    """What :func:`check_run_folder` decided.

    Attributes:
        action: "start" (a new run), "resume" (continue the run in the folder) or "refuse".
        out: the run folder (absolute).
        reason: why it is refused ("" otherwise), a message for users.
        field: what the refusal concerns: "out" (the run folder), "epochs", "data" (the data
            folder), or None (no training config given).
        config: the config to train with (on resume without a config: the recorded one).
        data_root: the data folder to train on.
        meta: the recorded ``config.json`` dict (resume only).
        state: the recorded ``last/state.json`` (resume after at least one epoch).
        manifest: the run's manifest (resume only).
        data_error: the refusal is about the data (raised as DataError).
    """

    action: Action
    out: Path
    reason: str = ""
    field: str | None = None
    config: TrainConfig | None = None
    data_root: Path | None = None
    meta: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    manifest: Manifest | None = None
    data_error: bool = False

    @property
    def completed(self) -> int:
        """Epochs the run in the folder has completed (0 for a new run)."""
        return completed_epochs(self.state)

    @property
    def finished(self) -> bool:
        """Whether the resumed run has done all its epochs and evaluated the test split after the last."""
        return self.action == "resume" and self.config is not None and finished_all(self.state, self.config.epochs)

    def raise_if_refused(self) -> None:
        """Raise the refusal: DataError for the data folder, RunError otherwise."""
        if self.action == "refuse":
            raise (DataError if self.data_error else RunError)(self.reason)


def check_run_folder(
    out: str | os.PathLike[str],
    config: TrainConfig | None,
    *,
    data: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> FolderDecision:
    """Decide whether a training with ``config`` may start or resume in ``out`` (nothing is written).

    Args:
        out: the run folder.
        config: the training config; None on resume takes the recorded one.
        data: the data folder (None: on resume, the recorded one).
        resume: continue a run found in ``out`` (an empty or new folder starts one).

    Returns:
        A :class:`FolderDecision`; call :meth:`FolderDecision.raise_if_refused` to raise.
    """
    out = Path(out).expanduser().absolute()
    if (out / files.CONFIG).is_file():
        if not resume:
            return _refuse(out, "out", f"{out} already holds a training run; pass --resume (resume=True) to "
                                       "continue it, or choose another --out")
        return _check_resume(out, config, data)
    if out.exists():
        if not out.is_dir():
            return _refuse(out, "out", f"--out {out} is a file; give a folder for the run")
        extra = sorted(p.name for p in out.iterdir() if p.name not in files.STARTUP_FILES)
        if extra:
            return _refuse(out, "out", f"--out {out} is not empty and holds no run ({', '.join(extra[:3])}...); "
                                       "choose an empty or new folder")
    if config is None:
        return _refuse(out, None, f"{out} holds no run to resume; give a training config to start one")
    if data is None:
        return _refuse(out, "data", "no data folder given; pass --data DIR (the images) to start a new run")
    root = Path(data).expanduser().absolute()
    if not root.is_dir():
        missing = "" if root.exists() else " (it does not exist)"
        return _refuse(out, "data", f"--data {root} is not a folder{missing}", data_error=True)
    return FolderDecision("start", out, config=config, data_root=root)


def _check_resume(out: Path, config: TrainConfig | None, data: str | os.PathLike[str] | None) -> FolderDecision:
    from cvd_explorer.data.split import read_manifest

    try:
        meta = read_meta(out)
        if is_imported(meta):
            return _refuse(out, "out", f"{out} holds an imported model (cvd-explorer import), not a training to resume")
        recorded = config_of(meta, out)
        state = read_last_state(out)
        completed = completed_epochs(state)
    except RunError as exc:
        return _refuse(out, "out", str(exc))
    config = config if config is not None else recorded
    differ = [f.name for f in fields(TrainConfig) if f.name != "epochs"
              and getattr(config, f.name) != getattr(recorded, f.name)]
    if differ:
        name = differ[0]
        return _refuse(out, "out", f"cannot resume {out} with {name}={getattr(config, name)!r}: the run was started "
                                   f"with {name}={getattr(recorded, name)!r} (a different run; only epochs may "
                                   "change on resume)")
    manifest = None
    record = meta.get("manifest")
    if isinstance(record, dict) and "sha256" in record:
        try:
            manifest = read_manifest(out / files.MANIFEST)
        except CvdError as exc:
            return _refuse(out, "out", str(exc))
        if manifest.sha256 != record["sha256"]:
            return _refuse(out, "out", f"{out / files.MANIFEST} differs from the manifest the run recorded "
                                       "(sha256); restore it")
    if config.epochs < completed:
        return _refuse(out, "epochs", f"cannot resume {out} with epochs={config.epochs}: {completed} epochs are "
                                      "already done")
    recorded_root = meta.get("data_root")
    root = Path(data).expanduser().absolute() if data is not None else Path(str(recorded_root or ""))
    if not root.is_dir() or (data is None and not recorded_root):
        return _refuse(out, "data", f"the run's data folder {root} does not exist; pass --data DIR where the "
                                    "images are", data_error=True)
    return FolderDecision("resume", out, config=config, data_root=root, meta=meta, state=state, manifest=manifest)


def _refuse(out: Path, field: str | None, reason: str, *, data_error: bool = False) -> FolderDecision:
    return FolderDecision("refuse", out, reason=reason, field=field, data_error=data_error)
