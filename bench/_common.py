"""Helpers shared by the benchmarks: timing, memory, a small synthetic data set."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (``VmRSS`` of ``/proc/self/status``; Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def gradient_floor(model: Any, x: Any) -> Callable[[], None]:
    """The floor of an explanation: one forward and one backward pass of ``model`` on the batch ``x``
    (the gradient of the summed outputs with respect to the input), as a callable to time."""
    import tensorflow as tf

    xt = tf.constant(x)

    @tf.function
    def floor_step(inp: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(inp)
            score = tf.reduce_sum(model(inp, training=False))
        return tape.gradient(score, inp)

    def floor() -> None:
        floor_step(xt).numpy()

    return floor


def synthetic_manifest(folder: Path, n: int, size: int):
    """Generate (or reuse) ``n`` synthetic images at ``size`` px in ``folder`` and split them."""
    from cvd_explorer.data.split import ensure_manifest
    from cvd_explorer.data.synthetic import generate

    generate(folder, n=n, size=size, seed=0)
    manifest, _ = ensure_manifest(folder)
    return manifest
