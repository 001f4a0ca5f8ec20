"""Input pipeline throughput: does the training pipeline scale with threads, and what does it cost?

On photo-like JPEGs of 300-500 px generated in a temp folder, images/s of:

* ``pipeline_img_s_1_thread`` / ``pipeline_img_s_2_threads``: the training stream as the
  training loop reads it (``make_dataset`` with ``defer_warp``: in-graph decode, squash to
  224 px, shuffled, each image's augmentation transform drawn from its stateless seed), with
  tf.data parallelism 1 and 2 (``num_parallel_calls`` and ``private_threadpool_size``);
* ``tf_decode_baseline_img_s``: a plain tf.data ``read_file`` + ``decode_jpeg`` + ``resize`` of
  the same files at parallelism 2, no augmentation;
* ``pipeline_warp_in_pipeline_img_s_2_threads``: the stream with the warp applied in the
  pipeline, image by image (what the loop still does with ``--xla``, which cannot compile it).

The warp did not disappear: the training step now does it, on the model's device, as one
batched op. ``device_warp_ms_per_image`` is its wall time per 224 px image on this CPU (a
tf.function warping batches of the stream with TensorFlow's default thread pools), timed in the
same alternating rounds, with ``device_warp_img_s`` the same as a rate. On a GPU box it runs on
the GPU instead of the input pipeline's CPU threads (not measured here); on this CPU it adds to
the train step's time.

``cpu_ms_per_image`` is the process CPU time per image of each feed (median over rounds): on a
busy machine it shows the work done when the images/s show mostly the neighbours' load, and
``pipeline_vs_baseline_by_cpu_time`` (baseline CPU ms / pipeline CPU ms) compares the two feeds'
work without the neighbours. Scaling from 1 to 2 threads needs two free cores: with a load
average above 2 on this 2-core machine it measures the neighbours.

The feeds alternate round by round (the order rotates) on this shared machine; each figure is
the median over rounds, and the per-round figures are printed too. ``scaling_1_to_2`` (target at
least 1.6) and ``pipeline_vs_baseline`` (target at least 0.9) are ratios of the medians. Prints
one JSON object. Usage: ``python bench/pipeline.py [--quick] [--rounds 5] [--images 600]``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb  # noqa: E402

SIZE = 224
BATCH = 20
SCALING_TARGET = 1.6
BASELINE_TARGET = 0.9


def _photo(rng: np.random.Generator) -> np.ndarray:
    """uint8 (H, W, 3), 300-500 px a side: colour waves, blobs and grain (JPEG-realistic entropy)."""
    height, width = (int(v) for v in rng.integers(300, 501, 2))
    y, x = np.mgrid[0:height, 0:width] / 500.0
    phase = rng.uniform(0, 6, 3)
    freq = rng.uniform(2, 12, 3)
    image = np.stack([np.sin(freq[c] * (x + y * (c - 1)) + phase[c]) for c in range(3)], -1) * 60 + 128
    for _ in range(6):
        cy, cx, r = rng.uniform(0, 1, 3) * (height / 500, width / 500, 0.3)
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] += rng.uniform(-60, 60, 3)
    image += rng.normal(0, 10, image.shape)
    return image.clip(0, 255).astype(np.uint8)


def _write_photos(folder: Path, n: int):
    """``n`` JPEGs in ``folder``/train and a manifest listing them all in the train split."""
    from PIL import Image

    from cvd_explorer.data.split import Manifest, ManifestRow

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        label = ("cat", "dog")[i % 2]
        rel = f"train/{label}.{i}.jpg"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_photo(rng)).save(folder / rel, "JPEG", quality=int(rng.integers(75, 95)))
        rows.append(ManifestRow(rel, label, "train"))
    return Manifest(rows=rows, seed=0, classes=("cat", "dog"), layout="kaggle", path=folder / "manifest.csv")


def _baseline(paths: list[str], threads: int):
    """Plain tf.data: read, decode_jpeg, resize to SIZE (bilinear), batch; endless."""
    import tensorflow as tf

    def load(path):
        return tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), (SIZE, SIZE))

    ds = tf.data.Dataset.from_tensor_slices(paths).repeat()
    ds = ds.map(load, num_parallel_calls=threads, deterministic=True).batch(BATCH).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    return ds.with_options(options)


def _rate(dataset, warmup: int, batches: int) -> tuple[float, float]:
    """(images/s, CPU ms per image) of ``batches`` batches of a fresh iterator after ``warmup``.

    The iterator is destroyed before returning: its prefetch threads would otherwise go on
    decoding into their buffers while the next feed is timed.
    """
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    images = batches * BATCH
    result = images / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / images
    del iterator
    gc.collect()
    return result


def _device_warp(dataset, batches: int):
    """A timer of the train step's first op: ``warp`` of ``batches`` real batches of the stream."""
    import tensorflow as tf

    from cvd_explorer.data.augment import warp

    held = list(dataset.take(batches))
    step = tf.function(lambda images, transforms: warp(tf.cast(images, tf.float32), transforms))
    step(*held[0][0])  # trace once

    def timed() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        for (images, transforms), _ in held:
            step(images, transforms).numpy()
        n = batches * BATCH
        return n / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / n

    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=600)
    args = parser.parse_args()
    rounds, n_images, batches = (1, 60, 2) if args.quick else (args.rounds, args.images, 20)

    from cvd_explorer.data.pipeline import DatasetOptions, make_dataset, split_arrays
    from cvd_explorer.data.tf_decode import plan_decoding

    with tempfile.TemporaryDirectory() as tmp:
        manifest = _write_photos(Path(tmp), n_images)
        paths, _ = split_arrays(manifest, "train")
        def stream(threads: int, defer_warp: bool = True):
            return make_dataset(manifest, "train", SIZE, BATCH, DatasetOptions(threads=threads, defer_warp=defer_warp))

        load_before = os.getloadavg()[0]
        datasets = [stream(1), stream(2), _baseline(paths, 2), stream(2, defer_warp=False)]
        feeds = {
            name: functools.partial(_rate, dataset, 2, batches)
            for name, dataset in zip(
                ["pipeline_img_s_1_thread", "pipeline_img_s_2_threads", "tf_decode_baseline_img_s",
                 "pipeline_warp_in_pipeline_img_s_2_threads"], datasets, strict=True)
        }
        feeds["device_warp_img_s"] = _device_warp(datasets[1], batches)
        routes = plan_decoding(paths).counts()
        per_round: dict[str, list[float]] = {name: [] for name in feeds}
        cpu_ms: dict[str, list[float]] = {name: [] for name in feeds}
        names = list(feeds)
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                rate, cpu = feeds[name]()
                per_round[name].append(round(rate, 1))
                cpu_ms[name].append(cpu)

    median = {name: statistics.median(rates) for name, rates in per_round.items()}
    one, two, base = (median[name] for name in names[:3])
    cpu = {name: statistics.median(values) for name, values in cpu_ms.items()}
    ratios = [round(b / a, 3) for a, b in zip(per_round[names[0]], per_round[names[1]], strict=True)]
    vs_base = [round(b / a, 3) for a, b in zip(per_round[names[2]], per_round[names[1]], strict=True)]
    print(json.dumps({
        "benchmark": "pipeline",
        "image_size": SIZE,
        "batch": BATCH,
        "images": n_images,
        "timed_images_per_round": batches * BATCH,
        "rounds": rounds,
        "cpu_count": os.cpu_count(),
        "load_average_1min": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)},
        "routes": routes,
        **{name: round(value, 1) for name, value in median.items()},
        "scaling_1_to_2": round(two / one, 3),
        "scaling_target": SCALING_TARGET,
        "pipeline_vs_baseline": round(two / base, 3),
        "pipeline_vs_baseline_target": BASELINE_TARGET,
        "scaling_1_to_2_per_round": ratios,
        "pipeline_vs_baseline_per_round": vs_base,
        "pipeline_vs_baseline_by_cpu_time": round(cpu[names[2]] / cpu[names[1]], 3),
        "device_warp_ms_per_image": round(1000 / median["device_warp_img_s"], 3),
        "cpu_ms_per_image": {name: round(value, 3) for name, value in cpu.items()},
        "per_round": per_round,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }, indent=2))


if __name__ == "__main__":
    main()
