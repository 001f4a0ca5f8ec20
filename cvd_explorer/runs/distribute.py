"""Pick a ``tf.distribute`` strategy for a training run.

* ``TF_CONFIG`` set: ``MultiWorkerMirroredStrategy``, the chief (worker 0) writes the run
  directory, other workers write to temporary folders.
* More than one GPU visible: ``MirroredStrategy`` over all of them.
* Otherwise TensorFlow's default (one device).

``TrainConfig.batch_size`` is the per-replica batch; the global batch fed to the model is
``batch_size * replicas`` and both are recorded in ``config.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from cvd_explorer.errors import RunError

# Keras 3 (3.x up to at least 3.15) cannot train with MultiWorkerMirroredStrategy: see
# docs/run-directory.md ("Distribution") and tests/unit/test_distribute.py for the reproduction.
MULTI_WORKER_ISSUE = "https://github.com/keras-team/keras/issues/20585"


@dataclass(frozen=True)
class Distribution:
    """How a run is spread over devices.

    Attributes:
        strategy: class name of the tf.distribute strategy ("default" for none).
        replicas: number of replicas in sync.
        per_replica_batch: images per batch per replica (``TrainConfig.batch_size``).
        global_batch: ``per_replica_batch * replicas``: the batch size the data pipeline makes.
        is_chief: whether this process writes the run directory.
        worker: task index of this worker (0 without TF_CONFIG).
    """

    strategy: str
    replicas: int
    per_replica_batch: int
    global_batch: int
    is_chief: bool = True
    worker: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``distribution`` block of ``config.json``."""
        data = asdict(self)
        del data["is_chief"], data["worker"]
        return data


def tf_config() -> dict[str, Any] | None:
    """Parsed ``TF_CONFIG`` environment variable, or None when unset or empty."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunError(f"TF_CONFIG is not valid JSON ({exc}); unset it for single-machine training") from None
    if not isinstance(data, dict) or "cluster" not in data:
        raise RunError("TF_CONFIG has no 'cluster' entry; unset it for single-machine training")
    return data


def choose_strategy(strategy: Any = None) -> Any:
    """The strategy to train under.

    Args:
        strategy: an explicit ``tf.distribute.Strategy`` (e.g. MirroredStrategy over logical CPU
            devices in tests), or None to choose automatically.

    Returns:
        A ``tf.distribute.Strategy``.

    Raises:
        RunError: TF_CONFIG asks for multi-worker training, which Keras 3 cannot do.
    """
    import tensorflow as tf

    if strategy is not None:
        _refuse_multi_worker(strategy)
        return strategy
    config = tf_config()
    if config is not None:
        workers = len(config["cluster"].get("worker", [])) + len(config["cluster"].get("chief", []))
        if workers > 1:  # refused before the strategy starts its gRPC server and waits for peers
            _refuse_multi_worker(None)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def describe(strategy: Any, per_replica_batch: int) -> Distribution:
    """Record of ``strategy`` for ``config.json``."""
    import tensorflow as tf

    replicas = int(strategy.num_replicas_in_sync)
    name = "default" if not tf.distribute.has_strategy() and _is_default(strategy) else type(strategy).__name__
    resolver = getattr(strategy, "cluster_resolver", None)
    task_id = int(getattr(resolver, "task_id", 0) or 0) if resolver is not None else 0
    task_type = getattr(resolver, "task_type", None) if resolver is not None else None
    is_chief = task_type in (None, "chief") or (task_type == "worker" and task_id == 0)
    return Distribution(name, replicas, per_replica_batch, per_replica_batch * replicas, is_chief, task_id)


def devices_label(strategy: Any) -> str:
    """Short description of the devices a strategy trains on, e.g. ``"CPU"`` or ``"2x GPU (NVIDIA ...)"``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    replicas = int(strategy.num_replicas_in_sync)
    if gpus:
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        except Exception:  # details are best effort
            name = "GPU"
        return f"{replicas}x GPU ({name})" if replicas > 1 else f"GPU ({name})"
    return f"{replicas}x CPU" if replicas > 1 else "CPU"


def _is_default(strategy: Any) -> bool:
    import tensorflow as tf

    return bool(strategy is tf.distribute.get_strategy() and type(strategy).__name__ == "_DefaultDistributionStrategy")


def _refuse_multi_worker(strategy: Any) -> None:
    """Raise RunError for a multi-worker strategy (or for ``None``: TF_CONFIG asked for one)."""
    name = type(strategy).__name__
    if strategy is None or name.startswith(("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")):
        raise RunError(
            "multi-worker training (TF_CONFIG with several workers) does not work with Keras 3 on "
            f"TensorFlow: model.fit fails under MultiWorkerMirroredStrategy ({MULTI_WORKER_ISSUE}); "
            "unset TF_CONFIG and train on one machine (all its GPUs are used through MirroredStrategy)"
        )
