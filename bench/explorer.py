"""Explorer responsiveness: slider steps, first view of a new sample, memory over many samples.

Prints one JSON object:

- ``slider_step_ms_median``: in-kernel time of one layer-slider step on a cached sample
  (``explorer.layer.value = name``: compose the CAM overlay and the feature grid, encode two PNGs
  into ``ipywidgets.Image`` values), median over every conv layer; target <= 20 ms on ResNet50 224;
- ``first_view_ms_median`` versus ``engine_one_pass_ms_median``: selecting a new sample (one engine
  pass for every conv layer plus all three views) versus :func:`explain_all` alone, the floor;
- ``top3_ms_median`` and ``top3_over_first_view``: the "top 3" view (the CAMs of the three most probable
  classes at every layer, one engine pass over three copies of the image) switched on for a sample whose
  first view is shown, versus that first view; target <= 3.3;
- ``peak_rss_mb`` and ``rss_growth_mb`` after visiting ``samples_visited`` samples with a cache of
  ``cache_size`` samples (bounded: growth stops once the cache is full);
- ``browser``: the key-press-to-new-image latency measured by the browser test
  (``test-artifacts/explorer_latency.json``), when that file exists.

Usage: ``python bench/explorer.py [--quick] [--classes K]`` (``--quick``: resnet-mini at 64 px, few samples;
``--classes 10``: a 10-class softmax model, labels cycling through the classes; default 2, the sigmoid head).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_seconds, peak_rss_mb, rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def browser_latency() -> dict | None:
    """The browser test's latency record, if it ran."""
    folder = Path(os.environ.get("CVD_EXPLORER_ARTIFACTS", REPO / "test-artifacts"))
    path = folder / "explorer_latency.json"
    return json.loads(path.read_text()) if path.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="resnet-mini at 64 px and few samples: a smoke test")
    parser.add_argument("--samples", type=int, default=50, help="samples visited for the memory figure")
    parser.add_argument("--cache", type=int, default=8, help="explanation cache size (samples)")
    parser.add_argument("--classes", type=int, default=2, help="K classes of the model (2: one sigmoid unit)")
    args = parser.parse_args()
    arch, size = ("resnet-mini", 64) if args.quick else ("resnet50", 224)
    visits = 6 if args.quick else args.samples
    repeats = 2 if args.quick else 5

    import numpy as np

    from cvd_explorer.explain import explain_all
    from cvd_explorer.models import build
    from cvd_explorer.widgets import Explorer

    k = args.classes
    model = build(arch, size, classes=k)  # random initialisation: timing does not depend on the weights
    classes = ["cat", "dog"] if k == 2 else [f"class{i}" for i in range(k)]
    images = np.random.default_rng(0).integers(0, 256, (visits + 2 * repeats + 2, size, size, 3), dtype=np.uint8)
    ex = Explorer(model=model, images=images, labels=[i % k for i in range(len(images))], classes=classes,
                  background=False, cache_size=args.cache)
    assert ex.error.value == "", ex.error.value
    rss_start = rss_mb()

    # slider steps on the cached first sample, every conv layer, each twice (warm-up pass untimed)
    layers = list(ex.layer.options)
    for name in layers:
        ex.layer.value = name
    steps = []
    for name in [*layers[1:], layers[0]]:
        start = time.perf_counter()
        ex.layer.value = name
        steps.append(time.perf_counter() - start)

    # a new sample: the full first view versus the engine's one pass alone
    first_views = []
    for key in ex.samples[1 : 1 + repeats]:
        start = time.perf_counter()
        ex.sample = key
        first_views.append(time.perf_counter() - start)
    x = images[1:2].astype(np.float32)
    floor = median_seconds(lambda: explain_all(model, x, layers=layers, classes=classes), repeats=repeats, warmup=1)

    # the "top 3" view against the first view, on fresh samples (one untimed warm-up traces the class targets)
    firsts, tops = [], []
    for i, key in enumerate(ex.samples[1 + repeats : 2 + 2 * repeats]):
        start = time.perf_counter()
        ex.sample = key
        first = time.perf_counter() - start
        start = time.perf_counter()
        ex.top.toggle.value = True
        top = time.perf_counter() - start
        assert ex.error.value == "" and len(ex.top.explanations) == min(3, k), ex.error.value
        ex.top.toggle.value = False
        if i:
            firsts.append(first)
            tops.append(top)

    # memory: visit many samples through the bounded cache
    for key in ex.samples[:visits]:
        ex.sample = key
    cached = [ex.session.cache.get(k) for k in list(ex.session.cache._data)]
    result = {
        "model": f"{arch} {size}px (random init), {k} classes",
        "conv_layers": len(layers),
        "slider_step_ms_median": round(1000 * statistics.median(steps), 2),
        "slider_step_ms_p90": round(1000 * float(np.percentile(steps, 90)), 2),
        "slider_step_target_ms": 20,
        "first_view_ms_median": round(1000 * statistics.median(first_views), 1),
        "engine_one_pass_ms_median": round(1000 * floor, 1),
        "first_view_over_floor": round(statistics.median(first_views) / floor, 2),
        "top3_ms_median": round(1000 * statistics.median(tops), 1),
        "top3_over_first_view": round(statistics.median(tops) / statistics.median(firsts), 2),
        "top3_target_ratio": 3.3,
        "samples_visited": visits,
        "cache_size": args.cache,
        "cached_samples": len(ex.session.cache),
        "cache_mb": round(sum(c.nbytes() for c in cached if c is not None) / 2**20, 1),
        "rss_after_first_sample_mb": round(rss_start, 1),
        "rss_mb": round(rss_mb(), 1),
        "rss_growth_mb": round(rss_mb() - rss_start, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "browser": browser_latency(),
    }
    ex.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
