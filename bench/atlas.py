"""Benchmark the atlas pass against the floor; prints one JSON object.

    python bench/atlas.py            # ResNet50, random init, 224x224, batch 8
    python bench/atlas.py --quick    # smoke test: 64x64, batch 2, fewer rounds
    python bench/atlas.py --part search   # only the similarity search and the slices, 25,000 images

Figures (seconds, medians of warm rounds; ``*_cold_s`` is the first call, tracing included):
  floor: one forward + one backward pass of the batch (a traced tf.function);
  atlas_batch: what the atlas pass does per batch once the images are decoded (decoding runs on a
    thread, overlapped): every conv layer's and block output's map, the logits and pooled features
    from the engine, then the statistics, thumbnails and mean-map sums of the batch;
  the two are timed in alternating rounds; ``atlas_vs_floor`` is the median of the rounds' ratios.
  ``estimated_4000_images_s``: atlas_batch x 4000 / batch (decoding not included).
  ``rows_bytes_per_image``: what the atlas keeps per image in memory until it is written.

The search part (``--part search``, also run by default) uses synthetic pooled features, 25,000 images x
2,048 (clustered, two classes, one planted failing group):
  ``similar_ms``: one ``nearest`` query (k = 10, median of rounds) alternated with a bare matrix-vector
    product of the same unit rows (``similar_vs_matvec``: what the partial sort and bookkeeping add);
  ``slices_s``: one ``find_slices`` call (PCA, k-means within each class and across, the tests);
  ``planted_group_found``: whether the first slice is the planted group (Jaccard >= 0.8);
  ``issues_s``: one ``find_data_issues`` call (cleanlab Datalab: outliers, near-duplicates, non-IID per
    class), the other half of what the atlas' finish step adds;
  ``findings_s``: the finish step's whole addition, :func:`cvd_explorer.atlas.findings.findings` (slices, their
    mean maps, data issues; one PCA shared by the two).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import gradient_floor  # noqa: E402
from cam import PeakRSS, paired  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64x64, batch 2, 2 rounds")
    parser.add_argument("--runs", type=int, default=None, help="alternating rounds (default 7, quick 2)")
    parser.add_argument("--part", choices=("all", "pass", "search"), default="all",
                        help="the atlas pass, the similarity search and slices, or both (default)")
    parser.add_argument("--images", type=int, default=None, help="images of the search part (default 25000)")
    args = parser.parse_args()
    if args.part != "pass":
        search = search_figures(args.images or (2000 if args.quick else 25000), args.runs or 7)
        if args.part == "search":
            print(json.dumps(search, indent=1))
            return
    size, batch = (64, 2) if args.quick else (224, 8)
    runs = args.runs or (2 if args.quick else 7)

    import keras

    from cvd_explorer.atlas.compute import Batch, PassSpec, reduce_batch
    from cvd_explorer.explain.engine import explain_batch
    from cvd_explorer.models import block_outputs, build, conv_layers

    keras.utils.set_random_seed(0)
    model = build("resnet50", size)
    layers, blocks = conv_layers(model), block_outputs(model)
    wanted = [*layers, *[b for b in blocks if b not in layers]]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    masks = np.zeros((batch, size, size), bool)
    masks[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
    labels = rng.integers(0, 2, batch)
    decoded = Batch(np.arange(batch), x, masks, np.ones(batch, bool), [])
    spec = PassSpec(root=Path("."), paths=[], labels=labels, classes=("cat", "dog"), layers=tuple(layers),
                    blocks=tuple(blocks), method="gradcam", size=size, mask_dir=None, batch_size=batch)
    floor = gradient_floor(model, x)

    chunk: dict[str, np.ndarray] = {}

    def atlas_batch() -> None:
        result = explain_batch(model, x, wanted)
        chunk.update(reduce_batch(decoded, result.cams, result.logits, result.features, spec).to_npz())

    with PeakRSS() as mem:
        timing = paired(floor, atlas_batch, runs)
    per_image = sum(v.nbytes for k, v in chunk.items() if k not in ("block_sums", "block_counts")) / batch
    result = {
        "model": "resnet50 (random init)",
        "input": [batch, size, size, 3],
        "conv_layers": len(layers),
        "block_outputs": len(blocks),
        "rounds": runs,
        "threads": os.cpu_count(),
        "floor_cold_s": timing["cold"][0],
        "atlas_batch_cold_s": timing["cold"][1],
        "floor_s": timing["median"][0],
        "atlas_batch_s": timing["median"][1],
        "atlas_vs_floor": timing["ratio"],
        "atlas_vs_floor_per_round": timing["ratios"],
        "estimated_4000_images_s": timing["median"][1] * 4000 / batch,
        "rows_bytes_per_image": round(per_image),
        "peak_rss_mb": round(mem.peak_mb, 1),
        "target": {"atlas_vs_floor <=": 1.3},
        "target_met": timing["ratio"] <= 1.3,
    }
    if args.part == "all":
        result["search"] = search
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}, indent=1))


def search_figures(n: int, rounds: int, dims: int = 2048) -> dict:
    """``similar_ms`` and ``slices_s`` on synthetic features of ``n`` images (see the module docstring)."""
    import time

    from cvd_explorer.atlas.data_issues import find_data_issues
    from cvd_explorer.atlas.similar import nearest, unit_rows
    from cvd_explorer.atlas.slices import find_slices

    rng = np.random.default_rng(0)
    blobs = rng.integers(0, 40, n)
    centres = rng.normal(size=(40, dims)).astype(np.float32)
    features = (centres[blobs] + rng.normal(size=(n, dims)).astype(np.float32)).astype(np.float16)
    labels = blobs % 2
    correct = rng.random(n) >= 0.05
    planted = np.flatnonzero(blobs == 7)
    correct[planted] = rng.random(planted.size) >= 0.6
    with PeakRSS() as mem:
        unit = unit_rows(features)
    queries = iter(rng.integers(0, n, 10 * rounds + 10).tolist())
    timing = paired(lambda: unit @ unit[next(queries)], lambda: nearest(unit, [next(queries)], 10), rounds)
    start = time.perf_counter()
    slices = find_slices(features, labels, correct, ("cat", "dog"))
    slices_s = time.perf_counter() - start
    probs = np.where(correct, 0.9, 0.1)
    two = np.stack([np.where(labels == 1, 1 - probs, probs), np.where(labels == 1, probs, 1 - probs)], axis=1)
    start = time.perf_counter()
    issues = find_data_issues(features, labels, two, ("cat", "dog"), [""] * n)
    issues_s = time.perf_counter() - start
    from cvd_explorer.atlas.findings import findings
    from cvd_explorer.atlas.schema import AtlasRow

    rows = [AtlasRow(f"img/{i}.jpg", "cat", "cat", 0.5, 0.1, True, 0.0, 0.0, "", False, 1.0, False) for i in range(n)]
    thumbs = rng.random((n, 32, 32)).astype(np.float16)
    start = time.perf_counter()
    findings(features, labels, correct, two, ("cat", "dog"), rows, thumbs)
    findings_s = time.perf_counter() - start
    first = slices[0].indices if slices else np.zeros(0, np.int64)
    jaccard = np.intersect1d(first, planted).size / max(1, np.union1d(first, planted).size)
    return {
        "images": n, "features": dims, "rounds": rounds,
        "unit_rows_mb": round(unit.nbytes / 2**20, 1), "peak_rss_mb": round(mem.peak_mb, 1),
        "matvec_ms": round(timing["median"][0] * 1000, 2), "similar_ms": round(timing["median"][1] * 1000, 2),
        "similar_vs_matvec": round(timing["ratio"], 3), "slices_s": round(slices_s, 2),
        "slices": len(slices), "planted_group_found": bool(jaccard >= 0.8), "issues_s": round(issues_s, 2),
        "findings_s": round(findings_s, 2),
        "issues": {name: int(found.flagged.size) for name, found in issues.items()},
        "target": {"similar_ms <=": 50}, "target_met": timing["median"][1] * 1000 <= 50,
    }


if __name__ == "__main__":
    main()
