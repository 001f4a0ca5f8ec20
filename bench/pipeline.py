"""Input pipeline throughput: is input the bottleneck of training?

Prints one JSON object: images/s of the tf.data pipeline alone (decode + resize + augmentation),
and train-step images/s of resnet-mini fed by that pipeline versus fed the same batches from
memory. ``fed_ratio`` near 1 means input is not the bottleneck. Usage:
``python bench/pipeline.py [--quick] [--size 128] [--batch 20]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, synthetic_manifest  # noqa: E402


def _images_per_s(iterator, steps: int, batch: int, step_fn=None) -> float:
    batch_data = next(iterator)  # warm-up (tracing, first decode)
    if step_fn:
        step_fn(*batch_data)
    start = time.perf_counter()
    for _ in range(steps):
        batch_data = next(iterator)
        if step_fn:
            step_fn(*batch_data)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    size = 48 if args.quick else args.size
    steps = 3 if args.quick else 20
    n_images = 120 if args.quick else 600

    import tensorflow as tf

    from cvd_explorer.data.pipeline import make_dataset
    from cvd_explorer.models import build, compile_reference

    with tempfile.TemporaryDirectory() as tmp:
        manifest = synthetic_manifest(Path(tmp) / "data", n_images, size)
        ds = make_dataset(manifest, "train", size, args.batch, seed=0)
        pipeline_alone = _images_per_s(iter(ds), steps, args.batch)

        model = compile_reference(build("resnet-mini", size))

        @tf.function
        def step(x, y):
            return _train_step(model, x, y)

        fed = _images_per_s(iter(ds), steps, args.batch, step)
        held = next(iter(ds))
        in_memory = _images_per_s(iter(lambda: held, None), steps, args.batch, step)

    print(json.dumps({
        "benchmark": "pipeline",
        "image_size": size,
        "batch": args.batch,
        "steps": steps,
        "cpu_count": os.cpu_count(),
        "pipeline_images_per_s": round(pipeline_alone, 1),
        "train_images_per_s_fed_by_pipeline": round(fed, 1),
        "train_images_per_s_in_memory": round(in_memory, 1),
        "fed_ratio": round(fed / in_memory, 3),
        "input_is_bottleneck": fed / in_memory < 0.9,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }, indent=2))


def _train_step(model, x, y):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    model.optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
    return loss


if __name__ == "__main__":
    main()
