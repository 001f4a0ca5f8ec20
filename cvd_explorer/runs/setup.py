"""Create a run directory, or check and reopen one for ``--resume``."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import DataError, RunError
from cvd_explorer.runs import files
from cvd_explorer.runs.io import now_iso, read_json, write_bytes, write_json


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
    manifest: Any
    data_root: Path
    meta: dict[str, Any]
    state: dict[str, Any] | None
    resumed: bool

    @property
    def completed(self) -> int:
        """Number of completed epochs."""
        return int(self.state["epoch"]) if self.state else 0

    @property
    def finished(self) -> bool:
        """Whether every epoch is done and the test split was evaluated for the last one."""
        return bool(
            self.state and self.completed >= self.config.epochs and self.state.get("evaluated") == self.completed
        )


def prepare(
    config: TrainConfig | None,
    data: str | os.PathLike[str] | None,
    out: Path,
    *,
    resume: bool,
    manifest_path: str | os.PathLike[str] | None,
    distribution: dict[str, Any],
    device: str,
) -> RunSetup:
    """Check ``out`` and write ``config.json`` + ``manifest.csv`` for a new run (or update them).

    Raises:
        RunError: ``out`` holds a run and ``resume`` is False; or the resumed run's recorded
            config differs from ``config`` in anything but ``epochs``.
    """
    if (out / files.CONFIG).is_file():
        if not resume:
            raise RunError(
                f"{out} already holds a training run; pass --resume (resume=True) to continue it, "
                "or choose another --out"
            )
        return _reopen(config, data, out, distribution, device)
    if out.exists():
        if not out.is_dir():
            raise RunError(f"--out {out} is a file; give a folder for the run")
        extra = sorted(p.name for p in out.iterdir() if p.name not in files.STARTUP_FILES)
        if extra:
            raise RunError(
                f"--out {out} is not empty and holds no run ({', '.join(extra[:3])}...); choose an empty "
                "or new folder"
            )
    if config is None:
        raise RunError(f"{out} holds no run to resume; give a training config to start one")
    if data is None:
        raise RunError("no data folder given; pass --data DIR (the images) to start a new run")
    root = Path(data).expanduser().absolute()
    if not root.is_dir():
        raise DataError(f"--data {root} is not a folder")
    manifest = _manifest(root, manifest_path)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / files.MANIFEST, manifest.to_bytes())
    meta = {
        "schema_version": files.SCHEMA_VERSION,
        "config": config.to_dict(),
        "versions": versions(),
        "data_root": str(root),
        "classes": list(manifest.classes),
        "positive": manifest.classes[1],
        "manifest": {"file": files.MANIFEST, "sha256": manifest.sha256, "seed": manifest.seed},
        "distribution": distribution,
        "device": device,
        "created": now_iso(),
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


def _manifest(root: Path, manifest_path: str | os.PathLike[str] | None):
    """The data folder's manifest: an existing one keeps its own split seed, a new one uses 0."""
    from cvd_explorer.data.split import MANIFEST_NAME, ensure_manifest, read_manifest

    path = Path(manifest_path) if manifest_path is not None else root / MANIFEST_NAME
    seed = read_manifest(path).seed if path.is_file() else 0
    manifest, _ = ensure_manifest(root, seed=seed, manifest_path=path)
    return manifest


def _reopen(
    config: TrainConfig | None, data, out: Path, distribution: dict[str, Any], device: str
) -> RunSetup:
    from cvd_explorer.data.split import read_manifest

    meta = read_json(out / files.CONFIG)
    recorded = TrainConfig.from_dict(meta["config"])
    if config is None:
        config = recorded
    differ = [f.name for f in fields(TrainConfig) if f.name != "epochs" and getattr(config, f.name) != getattr(recorded, f.name)]
    if differ:
        name = differ[0]
        raise RunError(
            f"cannot resume {out} with {name}={getattr(config, name)!r}: the run was started with "
            f"{name}={getattr(recorded, name)!r} (only epochs may change on resume)"
        )
    manifest = read_manifest(out / files.MANIFEST)
    if manifest.sha256 != meta["manifest"]["sha256"]:
        raise RunError(f"{out / files.MANIFEST} differs from the manifest the run recorded (sha256); restore it")
    state_path = out / files.LAST_DIR / files.LAST_STATE
    state = read_json(state_path) if state_path.is_file() else None
    completed = int(state["epoch"]) if state else 0
    if config.epochs < completed:
        raise RunError(f"cannot resume {out} with epochs={config.epochs}: {completed} epochs are already done")
    root = Path(data).expanduser().absolute() if data is not None else Path(meta["data_root"])
    if not root.is_dir():
        raise DataError(f"the run's data folder {root} does not exist; pass --data DIR where the images are")
    changed = dict(meta)
    changed["config"] = config.to_dict()
    changed["data_root"] = str(root)
    changed["distribution"] = distribution
    changed["device"] = device
    if changed != meta:
        write_json(out / files.CONFIG, changed)
    return RunSetup(out, config, manifest, root, changed, state, True)
