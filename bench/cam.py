"""Benchmark the explain engine against the floor and tf-keras-vis; prints one JSON object.

    python bench/cam.py            # ResNet50, random init, 224x224, batch 8
    python bench/cam.py --quick    # smoke test: 64x64, batch 2, fewer runs

Figures (seconds, medians of warm runs; ``*_cold_s`` is the first call, tracing included):
  floor: one forward + one backward pass to the input, same batch (a traced tf.function);
  ours_all: compute_cams over all 53 conv layers in one call; floor and ours_all are timed in
    alternating rounds and ``ours_all_vs_floor`` is the median of the rounds' ratios;
  tfkv_all: tf-keras-vis ``Gradcam`` looping over the same layers (timed on an evenly spaced
    subset and extrapolated when --tfkv-layers < 53, as the JSON says);
  ours_one / tfkv_one: the last conv layer alone.
Peak memory is the process's resident-set peak above the level before the calls (sampled every
5 ms in a thread; TensorFlow's allocations are invisible to tracemalloc).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


class PeakRSS:
    """Context manager sampling the resident set size; ``.peak_mb`` above the starting level."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self._base = self._proc.memory_info().rss
        self._peak = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.peak_mb = (self._peak - self._base) / 2**20


def timed(fn, runs: int) -> tuple[float, float]:
    """(cold first call, median of ``runs`` warm calls) in seconds."""
    t = time.perf_counter()
    fn()
    cold = time.perf_counter() - t
    warm = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t)
    return cold, statistics.median(warm)


def paired(base, fn, runs: int) -> dict:
    """Time ``base`` and ``fn`` alternately (one of each per round) so load drift hits both.

    Returns cold first calls, median warm times, each round's ``fn / base`` and their median ("ratio").
    """
    cold = []
    for f in (base, fn):
        t = time.perf_counter()
        f()
        cold.append(time.perf_counter() - t)
    times: tuple[list, list] = ([], [])
    for _ in range(runs):
        for f, out in zip((base, fn), times, strict=True):
            t = time.perf_counter()
            f()
            out.append(time.perf_counter() - t)
    ratios = [b / a for a, b in zip(*times, strict=True)]
    return {"cold": cold, "median": [statistics.median(t) for t in times],
            "ratios": [round(r, 3) for r in ratios], "ratio": statistics.median(ratios)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64x64, batch 2, 2 runs, 3 tf-keras-vis layers")
    parser.add_argument("--runs", type=int, default=None, help="warm runs per figure (default 7, quick 2)")
    parser.add_argument("--tfkv-layers", type=int, default=None, help="tf-keras-vis layers timed (default 8, quick 3)")
    args = parser.parse_args()
    size, batch = (64, 2) if args.quick else (224, 8)
    runs = args.runs or (2 if args.quick else 7)
    n_tfkv = args.tfkv_layers or (3 if args.quick else 8)

    import keras
    import tensorflow as tf

    from cvd_explorer.explain import compute_cams
    from cvd_explorer.models import build, conv_layers

    keras.utils.set_random_seed(0)
    model = build("resnet50", size)
    layers = conv_layers(model)
    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    xt = tf.constant(x)
    result = {
        "model": "resnet50 (random init)",
        "input": [batch, size, size, 3],
        "layers": len(layers),
        "runs": runs,
        "threads": os.cpu_count(),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }

    @tf.function
    def floor_step(inp):
        with tf.GradientTape() as tape:
            tape.watch(inp)
            out = model(inp, training=False)
            score = tf.reduce_sum(out)
        return tape.gradient(score, inp)

    def floor():
        return floor_step(xt).numpy()

    def ours_all():
        return compute_cams(model, x, batch_size=batch)

    with PeakRSS() as mem:
        cold = paired(floor, ours_all, runs)
    result["floor_cold_s"], result["ours_all_cold_s"] = cold["cold"]
    result["floor_s"], result["ours_all_s"] = cold["median"]
    result["ours_all_vs_floor"] = cold["ratio"]
    result["ours_all_vs_floor_per_round"] = cold["ratios"]
    result["floor_and_ours_all_peak_rss_mb"] = round(mem.peak_mb, 1)

    last = [layers[-1]]
    result["ours_one_cold_s"], result["ours_one_s"] = timed(
        lambda: compute_cams(model, x, last, batch_size=batch), runs
    )

    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import BinaryScore

    gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)  # clone: the user's model untouched
    score = BinaryScore([1.0] * batch)

    def tfkv(layer):
        return gradcam(score, x, penultimate_layer=layer)

    with PeakRSS() as mem:
        result["tfkv_one_cold_s"], result["tfkv_one_s"] = timed(lambda: tfkv(last[0]), runs)
    result["tfkv_one_peak_rss_mb"] = round(mem.peak_mb, 1)
    result["ours_one_vs_tfkv_one"] = result["ours_one_s"] / result["tfkv_one_s"]

    picks = np.unique(np.linspace(0, len(layers) - 1, min(n_tfkv, len(layers))).round().astype(int))
    subset = [layers[i] for i in picks]
    per_layer = []
    t_all = time.perf_counter()
    for layer in subset:
        t = time.perf_counter()
        tfkv(layer)
        per_layer.append(time.perf_counter() - t)
    result["tfkv_layers_timed"] = len(subset)
    result["tfkv_subset_s"] = time.perf_counter() - t_all
    result["tfkv_all_s"] = statistics.mean(per_layer) * len(layers)
    result["tfkv_all_extrapolated"] = len(subset) < len(layers)
    result["tfkv_all_note"] = (
        f"tf-keras-vis timed on {len(subset)} evenly spaced layers (first call per layer, as a loop runs it), "
        f"mean per layer x {len(layers)}" if len(subset) < len(layers) else "measured over every layer"
    )
    result["speedup_vs_tfkv_all"] = result["tfkv_all_s"] / result["ours_all_s"]
    result["targets"] = {"ours_all_vs_floor <=": 1.2, "speedup_vs_tfkv_all >=": 50, "ours_one_vs_tfkv_one <=": 0.5}
    result["targets_met"] = {
        "ours_all_vs_floor": result["ours_all_vs_floor"] <= 1.2,
        "speedup_vs_tfkv_all": result["speedup_vs_tfkv_all"] >= 50,
        "ours_one_vs_tfkv_one": result["ours_one_vs_tfkv_one"] <= 0.5,
    }
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    main()
