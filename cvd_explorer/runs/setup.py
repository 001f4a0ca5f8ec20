"""Create a run directory, or check and reopen one for ``--resume``."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvd_explorer.config import TrainConfig
from cvd_explorer.fileio import now_iso, write_bytes, write_json
from cvd_explorer.runs import files
from cvd_explorer.runs import probes as probe_setting
from cvd_explorer.runs.folder import completed_epochs, finished_all
from cvd_explorer.runs.folder_check import FolderDecision, check_run_folder

if TYPE_CHECKING:
    from cvd_explorer.data.split import Manifest


@dataclass
class RunSetup:
    """What a training needs to start or continue.

    Attributes:
        out: the run directory (absolute).
        config: the configuration to train with.
        manifest: the run's split manifest.
        data_root: folder of the images.
        meta: the ``config.json`` dict as written.
        state: ``last/state.json`` of a resumed run (None: start from scratch).
        resumed: whether ``out`` held this run already.
    """

    out: Path
    config: TrainConfig
    manifest: Manifest
    data_root: Path
    meta: dict[str, Any]
    state: dict[str, Any] | None
    resumed: bool

    @property
    def completed(self) -> int:
        """Number of completed epochs."""
        return completed_epochs(self.state)

    @property
    def finished(self) -> bool:
        """Whether every epoch is done and the test split was evaluated for the last one."""
        return finished_all(self.state, self.config.epochs)


@dataclass(frozen=True)
class RunRequest:
    """What a :func:`~cvd_explorer.runs.train` call asks of its run folder.

    Attributes:
        resume: continue the run in the folder (start it when absent); False: a new run.
        manifest_path: the split manifest to use or create (None: ``DATA/manifest.csv``).
        probes, probe_images: a new run's probe images (:mod:`cvd_explorer.runs.probes`; recorded
            in ``config.json``); on resume they must be None or what the run recorded.
    """

    resume: bool = False
    manifest_path: str | os.PathLike[str] | None = None
    probes: int | None = None
    probe_images: Sequence[str | os.PathLike[str]] | None = None


def prepare(
    config: TrainConfig | None,
    data: str | os.PathLike[str] | None,
    out: Path,
    request: RunRequest,
    *,
    distribution: dict[str, Any],
    device: str,
) -> RunSetup:
    """Check ``out`` (:func:`check_run_folder`) and write ``config.json`` + ``manifest.csv`` for a
    new run (or update them on resume), as ``request`` asks.

    Raises:
        RunError: ``out`` holds a run and ``resume`` is False; or the resumed run's recorded
            config differs from ``config`` in anything but ``epochs``; or the folder holds
            other files. DataError: the data folder is missing.
    """
    decision = check_run_folder(out, config, data=data, resume=request.resume)
    decision.raise_if_refused()
    if decision.action == "resume":
        assert decision.meta is not None and decision.data_root is not None  # a "resume" decision has both
        probe_setting.check_resume_request(decision.meta, out, decision.data_root, request.probes,
                                           request.probe_images)
        return _reopen(decision, distribution, device)
    assert decision.config is not None and decision.data_root is not None  # a "start" decision has both
    config, root = decision.config, decision.data_root
    manifest = data_manifest(root, request.manifest_path)
    probe_paths = probe_setting.resolve_request(manifest, root, config.seed, request.probes, request.probe_images)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / files.MANIFEST, manifest.to_bytes())
    meta = {
        "schema_version": files.SCHEMA_VERSION,
        "config": config.to_dict(),
        "versions": versions(),
        "data_root": str(root),
        "classes": list(manifest.classes),
        **({"positive": manifest.classes[1]} if len(manifest.classes) == 2 else {}),
        "manifest": {"file": files.MANIFEST, "sha256": manifest.sha256, "seed": manifest.seed},
        "distribution": distribution,
        "device": device,
        "created": now_iso(),
        probe_setting.META_KEY: {"images": probe_paths},
    }
    write_json(out / files.CONFIG, meta)
    return RunSetup(out, config, manifest, root, meta, None, False)


def versions() -> dict[str, str]:
    """Versions of cvd_explorer, TensorFlow, Keras and Python."""
    import keras
    import tensorflow as tf

    from cvd_explorer import __version__

    return {
        "cvd_explorer": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version() or sys.version.split()[0],
    }


def data_manifest(root: Path, manifest_path: str | os.PathLike[str] | None) -> Manifest:
    """The data folder's manifest: an existing one keeps its own split seed, a new one uses 0."""
    from cvd_explorer.data.split import MANIFEST_NAME, ensure_manifest, read_manifest

    path = Path(manifest_path) if manifest_path is not None else root / MANIFEST_NAME
    seed = read_manifest(path).seed if path.is_file() else 0
    manifest, _ = ensure_manifest(root, seed=seed, manifest_path=path)
    return manifest


def _reopen(decision: FolderDecision, distribution: dict[str, Any], device: str) -> RunSetup:
    """The resumed run's setup; ``config.json`` rewritten when the data root, device or epochs change."""
    from cvd_explorer.data.split import read_manifest

    out, meta = decision.out, decision.meta
    assert decision.config is not None and decision.data_root is not None and meta is not None
    config, root = decision.config, decision.data_root
    manifest = decision.manifest if decision.manifest is not None else read_manifest(out / files.MANIFEST)
    changed = dict(meta)
    changed["config"] = config.to_dict()
    changed["data_root"] = str(root)
    changed["distribution"] = distribution
    changed["device"] = device
    if changed != meta:
        write_json(out / files.CONFIG, changed)
    return RunSetup(out, config, manifest, root, changed, decision.state, True)
