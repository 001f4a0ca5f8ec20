"""What a GPU machine does with the study's models; prints ONE JSON object, within 8 minutes.

    python bench/gpu.py                 # on a machine with a GPU
    python bench/gpu.py --budget-s 200  # a shorter run

Without a GPU it prints ``{"gpu": false, "reason": ...}`` and exits 0: at once on a Linux machine with no
GPU device node (``/dev/nvidia<k>``, ``/dev/dxg`` of WSL, ``/dev/kfd`` of ROCm), else after TensorFlow's
import and ``tf.config.list_physical_devices("GPU")``. With one, each section has its own time limit (a
share of ``--budget-s``, 450 s at most, of what is left after the setup) and a watchdog prints what has
been measured so far, with ``"timed_out": true``, before 8 minutes:

- ``train``: for ResNet50 and ResNet101 at 224 px, built and compiled as a training run builds them
  (:func:`cvd_explorer.models.build`, ``--mixed-precision`` and ``--xla`` of
  :class:`cvd_explorer.config.TrainConfig`), training images/s fed from memory (one batch again and
  again) and fed by the real input pipeline (:func:`cvd_explorer.data.pipeline.make_dataset`: generated
  JPEGs decoded, squashed and augmented as the study did), timed in alternating rounds;
  ``pipeline_vs_memory`` under 0.9 means the input pipeline is the bottleneck (more CPU cores, or
  ``--cache-images``), near 1 means the GPU is;
- ``explain``: the one-pass explain floor ratio: every conv layer's Grad-CAM in one call
  (:func:`cvd_explorer.explain.compute_cams`) over one forward + backward pass of the same batch of 32
  (ResNet50, float32), alternating rounds as ``bench/cam.py``;
- ``atlas``: atlas images/s: per batch of 32 what the atlas pass does once the images are decoded
  (maps of every conv layer and block output, logits and features, then the statistics), as
  ``bench/atlas.py``;
- ``device``: the GPU's name, TensorFlow's version and the CUDA / cuDNN versions it was built with.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

HARD_LIMIT_S = 470.0  # the watchdog prints and exits before 8 minutes
SHARES = {"resnet50": 0.3, "resnet101": 0.35, "explain": 0.15, "atlas": 0.15}
SIZE = 224
TRAIN_BATCH = 64
EXPLAIN_BATCH = 32
JPEGS = 512
MIXED_PRECISION = True  # --mixed-precision of a training run
XLA = True  # --xla


class Report:
    """The JSON object, printed exactly once: at the end, or by the watchdog at the hard limit."""

    def __init__(self, started: float) -> None:
        self.data: dict[str, Any] = {"gpu": True}
        self.started = started
        self._lock = threading.Lock()
        self._printed = False

    def emit(self, **extra: Any) -> None:
        with self._lock:
            if self._printed:
                return
            self._printed = True
            self.data.update(extra, seconds=round(time.perf_counter() - self.started, 1))
            print(json.dumps(self.data), flush=True)

    def watchdog(self, limit_s: float) -> None:
        """Print the partial object and end the process at ``limit_s`` seconds after the start."""

        def fire() -> None:
            try:
                self.emit(timed_out=True)
            except RuntimeError:  # the main thread changed a section's dict while it was written out
                print(json.dumps({"gpu": True, "timed_out": True, "error": "partial results could not be written"}),
                      flush=True)
            finally:
                os._exit(0)

        timer = threading.Timer(max(0.0, limit_s - (time.perf_counter() - self.started)), fire)
        timer.daemon = True
        timer.start()


DEVICE_NODES = ("/dev/nvidia[0-9]*", "/dev/dxg", "/dev/kfd")


def no_device_node() -> dict[str, Any] | None:
    """``{"gpu": false, ...}`` without importing TensorFlow when Linux shows no GPU device node, else None."""
    import glob
    from importlib.metadata import PackageNotFoundError, version

    if not sys.platform.startswith("linux") or any(glob.glob(pattern) for pattern in DEVICE_NODES):
        return None
    try:
        tf_version: str | None = version("tensorflow")
    except PackageNotFoundError:
        tf_version = None
    return {"gpu": False, "reason": f"no GPU device node ({', '.join(DEVICE_NODES)}); nothing measured",
            "tensorflow": tf_version}


def no_gpu(tf: Any) -> dict[str, Any] | None:
    """``{"gpu": false, ...}`` when TensorFlow sees no GPU, else None."""
    if tf.config.list_physical_devices("GPU"):
        return None
    info = dict(tf.sysconfig.get_build_info())
    return {"gpu": False, "reason": "TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') is empty); "
            "nothing measured", "tensorflow": tf.__version__, "built_with_cuda": bool(info.get("is_cuda_build"))}


def device(tf: Any) -> dict[str, Any]:
    """Name of the first GPU and the versions TensorFlow was built with."""
    gpus = tf.config.list_physical_devices("GPU")
    details = tf.config.experimental.get_device_details(gpus[0])
    info = dict(tf.sysconfig.get_build_info())
    return {"name": details.get("device_name", gpus[0].name), "compute_capability": details.get("compute_capability"),
            "gpus": len(gpus), "tensorflow": tf.__version__, "cuda": info.get("cuda_version"),
            "cudnn": info.get("cudnn_version")}


def alternate(fns: dict[str, Callable[[], float]], until: float, max_rounds: int = 5) -> dict[str, list[float]]:
    """Call each of ``fns`` once per round (alternating) until ``until`` or ``max_rounds``; at least one round."""
    out: dict[str, list[float]] = {name: [] for name in fns}
    for done in range(max_rounds):
        if done and time.perf_counter() >= until:
            break
        for name, fn in fns.items():
            out[name].append(fn())
    return out


def train_section(arch: str, manifest: Any, until: float) -> dict[str, Any]:
    """Training images/s of ``arch`` at 224 px, mixed precision and XLA; batch 64, 32 when 64 does not fit."""
    import keras
    import tensorflow as tf

    try:
        return train_rates(arch, manifest, until, TRAIN_BATCH)
    except tf.errors.ResourceExhaustedError:
        keras.backend.clear_session()
        return train_rates(arch, manifest, until, TRAIN_BATCH // 2)


def train_rates(arch: str, manifest: Any, until: float, batch: int) -> dict[str, Any]:
    """Training images/s from memory and from the pipeline, alternating rounds (see the module's doc)."""
    import keras
    import tensorflow as tf

    from cvd_explorer.config import TrainConfig
    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset
    from cvd_explorer.models import build, compile_reference

    cfg = TrainConfig(arch=arch, image_size=SIZE, batch_size=batch, mixed_precision=MIXED_PRECISION, xla=XLA)
    previous = keras.mixed_precision.global_policy()
    keras.utils.set_random_seed(0)
    if cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = compile_reference(build(cfg.arch, cfg.image_size), cfg.lr, cfg.momentum)
        model.jit_compile = cfg.xla
        step = tf.function(model.train_step, jit_compile=cfg.xla, autograph=False)
        stream = DatasetOptions(augment=True, seed=0)
        files = iter(make_dataset(manifest, "train", cfg.image_size, cfg.batch_size, stream))
        held = next(files)
        t = time.perf_counter()
        _block(step(held))  # tracing and XLA compilation
        compile_s = time.perf_counter() - t
        _block(step(next(files)))
        steps = max(2, min(20, int(10 / max(_seconds(lambda: _block(step(held))), 1e-3))))

        def rate(feed: Callable[[], Any]) -> float:
            start = time.perf_counter()
            for _ in range(steps):
                logs = step(feed())
            _block(logs)
            return steps * cfg.batch_size / (time.perf_counter() - start)

        rounds = alternate({"memory": lambda: rate(lambda: held), "pipeline": lambda: rate(lambda: next(files))}, until)
    finally:
        keras.mixed_precision.set_global_policy(previous)
        keras.backend.clear_session()  # free the device's memory for the next model
    ratios = [p / m for m, p in zip(rounds["memory"], rounds["pipeline"], strict=True)]
    return {"image_size": SIZE, "batch": cfg.batch_size, "mixed_precision": cfg.mixed_precision, "xla": cfg.xla,
            "compile_s": round(compile_s, 1), "steps_per_round": steps, "rounds": len(ratios),
            "images_per_s_memory": round(statistics.median(rounds["memory"]), 1),
            "images_per_s_pipeline": round(statistics.median(rounds["pipeline"]), 1),
            "pipeline_vs_memory": round(statistics.median(ratios), 3),
            "input_bound": statistics.median(ratios) < 0.9}


def explain_section(model: Any, until: float) -> dict[str, Any]:
    """All conv layers' Grad-CAM in one call over one forward+backward pass, batch 32 (alternating)."""
    import numpy as np
    from _common import gradient_floor

    from cvd_explorer.explain import compute_cams

    x = np.random.default_rng(0).uniform(0, 255, (EXPLAIN_BATCH, SIZE, SIZE, 3)).astype(np.float32)
    floor = gradient_floor(model, x)
    cams = {"floor": lambda: _seconds(floor),
            "all_layers": lambda: _seconds(lambda: compute_cams(model, x, batch_size=EXPLAIN_BATCH))}
    for fn in cams.values():
        fn()  # tracing
    rounds = alternate(cams, until, max_rounds=7)
    ratios = [a / f for f, a in zip(rounds["floor"], rounds["all_layers"], strict=True)]
    return {"batch": EXPLAIN_BATCH, "rounds": len(ratios), "floor_s": round(statistics.median(rounds["floor"]), 4),
            "all_layers_s": round(statistics.median(rounds["all_layers"]), 4),
            "all_layers_vs_floor": round(statistics.median(ratios), 3)}


def atlas_section(model: Any, until: float) -> dict[str, Any]:
    """Atlas images/s once decoded: the engine's maps, logits and features, then the batch's statistics."""
    import numpy as np

    from cvd_explorer.atlas.compute import Batch, PassSpec, reduce_batch
    from cvd_explorer.explain.engine import explain_batch
    from cvd_explorer.models import block_outputs, conv_layers

    layers, blocks = conv_layers(model), block_outputs(model)
    wanted = [*layers, *[b for b in blocks if b not in layers]]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (EXPLAIN_BATCH, SIZE, SIZE, 3)).astype(np.float32)
    masks = np.zeros((EXPLAIN_BATCH, SIZE, SIZE), bool)
    labels = rng.integers(0, 2, EXPLAIN_BATCH)
    decoded = Batch(np.arange(EXPLAIN_BATCH), x, masks, np.zeros(EXPLAIN_BATCH, bool), [])
    spec = PassSpec(root=Path("."), paths=[], labels=labels, classes=("cat", "dog"), layers=tuple(layers),
                    blocks=tuple(blocks), method="gradcam", size=SIZE, mask_dir=None, batch_size=EXPLAIN_BATCH)

    def one() -> float:
        def run() -> None:
            result = explain_batch(model, x, wanted)
            reduce_batch(decoded, result.cams, result.logits, result.features, spec)

        return EXPLAIN_BATCH / _seconds(run)

    one()  # tracing
    rates = alternate({"atlas": one}, until, max_rounds=5)["atlas"]
    return {"batch": EXPLAIN_BATCH, "rounds": len(rates), "images_per_s": round(statistics.median(rates), 1),
            "note": "decoding not included (it runs on a thread, overlapped with the GPU)"}


def _block(logs: Any) -> None:
    """Wait for the device: fetch every value of a train step's logs."""
    {k: float(v) for k, v in logs.items()}


def _seconds(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _guarded(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One section's figures; an error (out of memory, say) is reported in their place, the rest still runs."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001  (a bench reports every failure and goes on)
        return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=450.0, help="seconds shared among the sections (max 450)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "cvd-explorer-bench-gpu",
                        help="where the generated JPEGs are kept (reused by the next call)")
    args = parser.parse_args()
    started = time.perf_counter()
    missing = no_device_node()
    if missing is not None:
        print(json.dumps(missing))
        return 0
    import tensorflow as tf

    missing = no_gpu(tf)
    if missing is not None:
        print(json.dumps(missing))
        return 0
    report = Report(started)
    report.watchdog(HARD_LIMIT_S)
    report.data["device"] = device(tf)

    from _common import synthetic_manifest

    manifest = synthetic_manifest(args.folder, JPEGS, 320)
    report.data["jpegs"] = {"images": JPEGS, "size": 320, "folder": str(args.folder)}
    # the sections share what is left before the watchdog, less a margin
    budget = max(0.0, min(args.budget_s, 450.0, HARD_LIMIT_S - 20 - (time.perf_counter() - started)))
    report.data["budget_s"] = round(budget, 1)
    section_start = time.perf_counter()
    train: dict[str, Any] = {}
    report.data["train"] = train
    for arch in ("resnet50", "resnet101"):
        until = section_start + budget * SHARES[arch]
        train[arch] = _guarded(lambda arch=arch, until=until: train_section(arch, manifest, until))
        section_start = time.perf_counter()

    import keras

    from cvd_explorer.models import build

    keras.utils.set_random_seed(0)
    model = build("resnet50", SIZE)
    for name in ("explain", "atlas"):
        until = time.perf_counter() + budget * SHARES[name]
        fn = explain_section if name == "explain" else atlas_section
        report.data[name] = _guarded(lambda fn=fn, until=until: fn(model, until))
    report.emit(timed_out=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
