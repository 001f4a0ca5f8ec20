"""Training throughput fed by the real input pipeline versus in-memory tensors.

For resnet-mini at 128 px and ResNet50 at 224 px: images/s of Keras training steps
(``model.train_step`` under ``tf.function``, as ``fit`` runs them) fed batch by batch from
``make_dataset`` (JPEG files decoded, squashed, augmented as the study did, prefetched) versus
fed the same batch again and again from memory. A ratio near 1 means the input pipeline keeps
up with the model; well below 1 (under 0.9) means input is the bottleneck. The ratio is the
median of interleaved (memory, pipeline) pairs; the per-pair ratios show the noise of a shared
machine. Also reported: the pipeline's own rate without training, and the ratio to expect on a
CPU where decoding takes cycles from the model, 1 / (1 + train rate / pipeline rate).

``probe_cost``: the probes' share of an epoch at the demo's settings (resnet-mini, 64 px, 40 steps
of 32, ``model.fit`` fed by the pipeline): epochs alternate with and without the probe pass (Grad-CAM
of 8 images at every block output, written to a probe file) at their end; after the first epoch
(tracing) the probe seconds are timed directly and the epochs with and without them compared
(medians), with the share ``probe seconds / epoch seconds without probes`` to hold under 5%.
Prints one JSON object. Usage: ``python bench/train.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, synthetic_manifest  # noqa: E402

# (arch, image size, batch, warm-up steps, timed steps, timed rounds per feed)
FULL = (("resnet-mini", 128, 20, 2, 10, 5), ("resnet50", 224, 8, 1, 3, 3))
QUICK = (("resnet-mini", 48, 8, 1, 2, 1), ("resnet50", 64, 4, 1, 1, 1))
BOTTLENECK_RATIO = 0.9
PIPELINE_BATCHES = 10  # batches timed for the pipeline's own rate
# probe cost: (image size, batch, steps per epoch, epochs: the first untimed, then with/without alternating)
PROBE_FULL = (64, 32, 40, 7)
PROBE_QUICK = (48, 8, 3, 3)
PROBE_IMAGES = 8
PROBE_BUDGET = 0.05


def _rate(next_batch, step, steps: int, batch: int) -> float:
    """Images/s of ``steps`` calls of ``step(*next_batch())``, waiting for the last result."""
    start = time.perf_counter()
    for _ in range(steps):
        logs = step(*next_batch())
    _ = {k: float(v) for k, v in logs.items()}  # block until the device is done
    return steps * batch / (time.perf_counter() - start)


def _pipeline_rate(dataset, batch: int) -> float:
    """Images/s of the pipeline on its own, before any training competes for the cores (its
    iterator, and the threads prefetching for it, end with this call)."""
    import tensorflow as tf

    alone = iter(dataset)
    next(alone)
    return _rate(lambda: next(alone), lambda x, y: {"n": tf.shape(x)[0]}, PIPELINE_BATCHES, batch)


def measure(manifest, arch: str, size: int, batch: int, warmup: int, steps: int, rounds: int) -> dict:
    """Pipeline-fed and memory-fed training images/s for one model (medians over ``rounds`` pairs)."""
    import tensorflow as tf

    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset
    from cvd_explorer.models import build, compile_reference

    dataset = make_dataset(manifest, "train", size, batch, DatasetOptions(augment=True, seed=0))
    pipeline_only = _pipeline_rate(dataset, batch)
    files_iter = iter(dataset)
    model = compile_reference(build(arch, size))

    @tf.function(autograph=False)  # as Keras compiles its own train step
    def step(x, y):
        return model.train_step((x, y))

    held = next(files_iter)
    for _ in range(warmup):  # tracing, first decodes, allocator warm-up
        step(*held)
        step(*next(files_iter))
    fed, in_memory = [], []
    for _ in range(rounds):  # interleaved pairs: the machine is shared, its load drifts
        in_memory.append(_rate(lambda: held, step, steps, batch))
        fed.append(_rate(lambda: next(files_iter), step, steps, batch))
    ratios = [f / m for f, m in zip(fed, in_memory, strict=True)]
    ratio = statistics.median(ratios)
    memory_rate = statistics.median(in_memory)
    return {
        "arch": arch,
        "image_size": size,
        "batch": batch,
        "timed_steps": steps,
        "rounds": rounds,
        "pipeline_only_images_per_s": round(pipeline_only, 1),
        "train_images_per_s_pipeline": round(statistics.median(fed), 2),
        "train_images_per_s_in_memory": round(memory_rate, 2),
        "ratio": round(ratio, 3),
        "ratio_per_round": [round(r, 3) for r in ratios],
        # On a CPU the pipeline's decoding takes cycles from the model: the ratio to expect then.
        "ratio_expected_from_cpu_share": round(1 / (1 + memory_rate / pipeline_only), 3),
        "input_is_bottleneck": ratio < BOTTLENECK_RATIO,
    }


def probe_cost(manifest, out: Path, size: int, batch: int, steps: int, epochs: int) -> dict:
    """Seconds per epoch with and without the probes at the epoch's end (alternating), and their share."""
    import logging

    import keras

    from cvd_explorer.data.loader import load_image
    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset
    from cvd_explorer.models import block_outputs, build, compile_reference, find_layer
    from cvd_explorer.runs.probes import ProbeRecorder, ProbeSpec, choose_probes

    class Retracing(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.count = 0

        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            self.count += "retracing" in text and "TensorFlowTrainer" not in text

    model = compile_reference(build("resnet-mini", size), 0.01, 0.9)
    rows = choose_probes(manifest, PROBE_IMAGES, seed=0)
    root = Path(manifest.path).parent
    images = np.stack([load_image(root / r.path, size=(size, size)) for r in rows]).astype(np.float32)
    layers = tuple(block_outputs(model))
    spec = ProbeSpec(tuple(r.path for r in rows), tuple(r.label for r in rows), tuple(r.split for r in rows),
                     layers, tuple(tuple(find_layer(model, n)[0].output.shape[1:3]) for n in layers), size)
    (out / "probes").mkdir(parents=True, exist_ok=True)
    recorder = ProbeRecorder(out, images, spec)
    timings: list[tuple[bool, float, float]] = []  # (with probes, epoch seconds, probe seconds)

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            probe = epoch == 0 or epoch % 2 == 1  # the first epoch (tracing) has them, then every other
            t = time.perf_counter()
            if probe:
                recorder.record(model, epoch + 1)
            now = time.perf_counter()
            timings.append((probe, now - self.t0, now - t if probe else 0.0))

    watch = Retracing()
    logging.getLogger("tensorflow").addHandler(watch)
    try:
        dataset = make_dataset(manifest, "train", size, batch, DatasetOptions(augment=True, seed=0))
        model.fit(dataset, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[Timer()])
    finally:
        logging.getLogger("tensorflow").removeHandler(watch)
    later = timings[1:]
    with_probes = [t for p, t, _ in later if p]
    without = [t for p, t, _ in later if not p]
    probe_seconds = statistics.median([s for p, _, s in later if p])
    epoch_without = statistics.median(without)
    return {
        "arch": "resnet-mini", "image_size": size, "batch": batch, "steps_per_epoch": steps,
        "probe_images": len(images), "block_outputs": len(layers),
        "first_epoch_probe_seconds": round(timings[0][2], 3),
        "epoch_seconds_with_probes": [round(t, 3) for t in with_probes],
        "epoch_seconds_without_probes": [round(t, 3) for t in without],
        "probe_seconds_median": round(probe_seconds, 4),
        "epoch_ratio_with_to_without": round(statistics.median(with_probes) / epoch_without, 3),
        "probe_share_of_epoch": round(probe_seconds / epoch_without, 4),
        "budget": PROBE_BUDGET,
        "within_budget": probe_seconds / epoch_without <= PROBE_BUDGET,
        "probe_retracing_warnings": watch.count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one step: a smoke test")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    source_px = 96 if args.quick else 320  # source JPEGs larger than the input, as real photos are
    n_images = 60 if args.quick else 240

    import tensorflow as tf

    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        manifest = synthetic_manifest(Path(tmp) / "data", n_images, source_px)
        for arch, size, batch, warmup, steps, rounds in plan:
            results.append(measure(manifest, arch, size, batch, warmup, steps, rounds))
        probes = probe_cost(manifest, Path(tmp) / "run", *(PROBE_QUICK if args.quick else PROBE_FULL))
    print(json.dumps({
        "benchmark": "train",
        "quick": args.quick,
        "source_images": {"n": n_images, "px": source_px, "format": "jpeg", "augmentation": "study"},
        "cpu_count": os.cpu_count(),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "models": results,
        "ratio": {f"{r['arch']}@{r['image_size']}": r["ratio"] for r in results},
        "input_is_bottleneck": {f"{r['arch']}@{r['image_size']}": r["input_is_bottleneck"] for r in results},
        "bottleneck_threshold": BOTTLENECK_RATIO,
        "probe_cost": probes,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }, indent=2))


if __name__ == "__main__":
    main()
