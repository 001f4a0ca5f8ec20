"""Atlas panel responsiveness on a synthetic atlas (4,000 images unless ``--images``), and the cost of
finishing an atlas of that size.

Prints one JSON object:

- ``import_s``: importing jupyter-scatter and pandas (paid once per kernel, by the first Atlas);
- ``open_first_s`` and ``open_s_median``: ``Atlas(run)`` on the 4,000-image atlas, the first in the
  process and then warm (median); target <= 2 s for ``import_s + open_first_s``; ``open_cpu_s_median`` is
  the CPU time of the same opens (single-threaded: what the wall time is on an idle machine; the wall time
  grows with ``load_average_1min`` on a shared one);
  ``tensorflow_loaded_by_open`` must be false (the model loads only when an image is opened);
- ``explorer_open_s``: creating the linked Explorer (TensorFlow and the model), for reference;
- ``selection_to_gallery_ms_median``: ``atlas.selection = keys`` (a box of about 200 points, a new
  one each round) until the Explorer's gallery shows them (restriction, filters, the first page of
  thumbnails decoded), target <= 200 ms; against ``filter_to_gallery_ms_median``, the Explorer's own
  prediction filter switched in the same rounds (alternating), the baseline;
- ``panel_rss_growth_mb``: resident memory of a fresh process after ``Atlas(run)`` minus before it
  (jupyter-scatter, pandas and the Atlas module already imported), target <= 300 MB at 25,000 points;
  ``panel_import_rss_mb`` is what those imports cost;
- ``finish_s``: :func:`cvd_explorer.atlas.finish.finish` (embedding, cleanlab, depth curves, mean maps,
  copies and leakage from a cached scan, the finished files) on streamed chunks of that many synthetic
  rows with 2,048 float16 features (ten clusters), 53 layers and 16 blocks like ResNet50, in a fresh
  process; target <= 180 s at 25,000 on this 2-core machine. ``finish_cpu_s`` is its CPU time (every
  thread's), which the load of a shared machine does not inflate. ``finish_steps_s`` times the embedding
  (UMAP's compilation already paid), cleanlab and the depth curves on the same arrays, one by one.

The run is the test suite's small trained run (resnet-mini at 32 px) given a 4,000-image test split
of generated JPEGs, random predictions and an atlas written directly with
:mod:`cvd_explorer.atlas.store` (no engine pass): the panel reads only those files.

Usage: ``python bench/atlas_panel.py [--images N] [--rounds N] [--folder DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402, F401  (quiet TensorFlow)

REPO = Path(__file__).resolve().parent.parent
N = 4000
FEATURES = 2048  # ResNet50's pooled features
FINISH_LAYERS = 53  # ResNet50's conv layers
FINISH_BLOCKS = 16  # and its block outputs
CHUNK = 32  # images per streamed chunk (the atlas pass's default batch)
GROUPS = 4  # mean-map groups of two classes: class x (correct, misclassified)


def run_name(n: int) -> str:
    """Folder of the generated run for ``n`` images (``run4k`` for the default size, as before)."""
    return "run4k" if n == 4000 else f"run{n}"


def prepare(folder: Path, n: int = N) -> Path:
    """The benchmark's run of ``n`` test images (made once, in a subprocess that may import TensorFlow)."""
    import csv

    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(REPO))
    from cvd_explorer.atlas import compute_atlas, store
    from cvd_explorer.atlas.depth import depth_curves
    from cvd_explorer.atlas.schema import AtlasRow, group_names
    from cvd_explorer.runs import Run
    from tests.widgets.helpers import small_run

    base = small_run(folder / "base")
    small = compute_atlas(base)
    run_dir = folder / run_name(n)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    shutil.copytree(base, run_dir, ignore=shutil.ignore_patterns("atlas", "tensorboard"))
    rng = np.random.default_rng(0)
    data = folder / ("data4k" if n == 4000 else f"data{n}")
    labels = rng.integers(0, 2, n)
    classes = ("cat", "dog")
    paths = []
    for i in range(n):
        rel = f"test/{classes[labels[i]]}.{i}.jpg"
        paths.append(rel)
        target = data / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            colour = (200, 120, 60) if labels[i] else (60, 120, 200)
            pixels = np.clip(rng.normal(colour, 40, (48, 48, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(target, quality=85)
    groups = [f"g{i // 2}" if i < 200 else "" for i in range(n)]  # 100 pairs of copies (in the atlas rows)
    manifest = "# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,label,split\n" + "".join(
        f"{p},{classes[y]},test\n" for p, y in zip(paths, labels, strict=True))
    (run_dir / "manifest.csv").write_text(manifest)
    meta = json.loads((run_dir / "config.json").read_text())
    meta["data_root"] = str(data)
    meta["manifest"]["sha256"] = hashlib.sha256(manifest.encode()).hexdigest()
    (run_dir / "config.json").write_text(json.dumps(meta, indent=1))
    flip = rng.random(n) < 0.07
    p = np.where(labels == 1, rng.beta(8, 2, n), rng.beta(2, 8, n))
    p = np.where(flip, 1 - p, p)
    predicted = (p > 0.5).astype(int)
    correct = predicted == labels
    loss = -np.log(np.where(labels == 1, p, 1 - p))
    with open(run_dir / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "prob", "predicted", "correct", "loss"])
        for k in range(n):
            w.writerow([paths[k], classes[labels[k]], p[k], classes[predicted[k]], int(correct[k]), loss[k]])

    run = Run(run_dir)
    layers, blocks = small.layers, list(small.summary["blocks"])
    folder_a = store.atlas_dir(run_dir, "test", "gradcam")
    folder_a.mkdir(parents=True, exist_ok=True)
    centres = rng.random((8, 2))
    xy = np.clip(centres[rng.integers(0, 8, n)] + rng.normal(0, 0.05, (n, 2)), 0, 1).astype(np.float32)
    score = np.where(correct, rng.uniform(0.3, 1, n), rng.uniform(0, 0.4, n))
    suspect = score < 0.1
    store.write_rows(folder_a / store.IMAGES, [
        AtlasRow(paths[k], classes[labels[k]], classes[predicted[k]], float(p[k]), float(loss[k]), bool(correct[k]),
                 float(xy[k, 0]), float(xy[k, 1]), groups[k], False, float(score[k]), bool(suspect[k]))
        for k in range(n)])
    L = len(layers)
    stats = {name: rng.random((n, L)).astype(np.float32) for name in
             ("agreement", "concentration", "centroid_y", "centroid_x", "mass_in_mask", "pointing_hit", "blank")}
    store.write_npz(folder_a / store.ARRAYS, {"features": rng.random((n, FEATURES)).astype(np.float16), "embedding": xy,
                                              "thumbs": rng.random((n, 32, 32)).astype(np.float16),
                                              "logits": np.log(p / (1 - p)).astype(np.float32),
                                              "has_mask": np.ones(n, bool)})
    store.write_npz(folder_a / store.LAYER_STATS, {**stats, "layers": np.asarray(layers, dtype=str)})
    store.write_npz(folder_a / store.MEAN_CAMS, {"maps": rng.random((len(blocks), 4, 32, 32)).astype(np.float32),
                                                 "counts": np.full((len(blocks), 4), n // 4),
                                                 "blocks": np.asarray(blocks, dtype=str),
                                                 "groups": np.asarray(group_names(classes), dtype=str)})
    (folder_a / store.LABEL_ISSUES).write_text("path,label,suggested,score\n")
    summary = dict(small.summary, images=n, misclassified=int((~correct).sum()),
                   depth=depth_curves(layers, stats, correct, labels, classes, with_masks=True).to_json(),
                   suspected_label_errors=[], slices=[], issues={})
    store.write_json(folder_a / store.SUMMARY, summary)
    index = store.read_index(small.folder) or {}
    key = dict(index["key"], manifest_sha256=meta["manifest"]["sha256"], masks=None)  # data4k has no masks
    store.write_json(folder_a / store.INDEX, dict(index, key=key, state="complete", images=n))
    assert len(run.predictions or []) == n
    return run_dir


def synthetic_chunks(folder: Path, n: int) -> None:
    """Streamed chunks of ``n`` synthetic rows, as the atlas pass writes them (untimed)."""
    import numpy as np

    from cvd_explorer.atlas import compute, mapstats
    from cvd_explorer.atlas.schema import Chunk

    rng = np.random.default_rng(2)
    centres = rng.normal(0, 1, (10, FEATURES)).astype(np.float32)
    s = mapstats.STAT_SIZE
    write = compute.store_chunk(folder)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        cluster = rng.integers(0, 10, m)
        stats = {}
        for name in mapstats.STATISTICS:
            values = rng.random((m, FINISH_LAYERS)).astype(np.float32)
            if name in ("pointing_hit", "blank"):
                values = (values > 0.7).astype(np.float32)
            stats[name] = values
        chunk = Chunk(
            indices=np.arange(start, start + m, dtype=np.int64),
            logits=rng.normal(0, 3, m).astype(np.float32),
            features=(centres[cluster] + rng.normal(0, 1.5, (m, FEATURES))).astype(np.float16),
            thumbs=rng.random((m, s, s)).astype(np.float16),
            has_mask=np.ones(m, bool),
            stats=stats,
            block_sums=rng.random((FINISH_BLOCKS, GROUPS, s, s)),
            block_counts=rng.integers(0, m, (FINISH_BLOCKS, GROUPS)),
            failed=np.zeros(0, np.int64),
            failed_reason=np.zeros(0, dtype="<U1"),
        )
        write(start, chunk)


def measure_finish(folder: Path, n: int) -> dict[str, object]:
    """``finish()`` on ``n`` synthetic rows of the prepared run, then its main steps one by one."""

    os.environ["CVD_EXPLORER_CACHE"] = str(folder / "scan-cache")
    sys.path.insert(0, str(REPO))
    import numpy as np

    from cvd_explorer.atlas import compute, depth, embed, labels, store
    from cvd_explorer.atlas.findings import findings
    from cvd_explorer.atlas.finish import finish, gather
    from cvd_explorer.data.scan import scan
    from cvd_explorer.runs import Run

    run = Run(folder / run_name(n))
    scan(run.data_root)  # the scan the finish reads its duplicate groups from is cached, as after `cvd-explorer scan`
    rows = compute.check_split(run, "test")
    y = np.asarray([run.manifest.label_index(r.label) for r in rows], np.int64)
    target = folder / f"finish{n}"
    if not (target / store.CHUNKS).is_dir() or len(list((target / store.CHUNKS).glob("*.npz"))) != -(-n // CHUNK):
        shutil.rmtree(target, ignore_errors=True)
        synthetic_chunks(target, n)
    for name in (*store.FINISHED_FILES, store.INDEX):
        (target / name).unlink(missing_ok=True)
    layers = [f"conv{i}" for i in range(FINISH_LAYERS)]
    blocks = [f"block{i}_out" for i in range(FINISH_BLOCKS)]
    key = store.AtlasKey(split="test", method="gradcam", model_sha256=None, manifest_sha256=None, masks=None,
                         image_size=run.config.image_size)
    t, c = time.perf_counter(), time.process_time()
    summary = finish(run, target, rows, y, layers, blocks, key, 0.0)
    finish_s, finish_cpu_s = time.perf_counter() - t, time.process_time() - c
    assert summary["images"] == n

    data = gather(target, len(layers), len(blocks), GROUPS)
    p = 1.0 / (1.0 + np.exp(-data.logits.astype(np.float64)))
    steps = {}
    t = time.perf_counter()
    coords = embed.embed(data.features)
    steps["embedding"] = time.perf_counter() - t
    t = time.perf_counter()
    labels.find_label_issues(y, p)
    steps["cleanlab"] = time.perf_counter() - t
    t = time.perf_counter()
    depth.depth_curves(layers, data.stats, (p > 0.5) == y, y, ("cat", "dog"), with_masks=True)
    steps["depth_curves"] = time.perf_counter() - t
    t = time.perf_counter()
    findings(data.features, y, (p > 0.5) == y, np.stack([1 - p, p], axis=1), ("cat", "dog"),
             store.read_rows(target / store.IMAGES), data.thumbs)
    steps["slices_and_issues"] = time.perf_counter() - t
    stored = store.read_npz(target / store.ARRAYS)["embedding"]
    return {"finish_s": round(finish_s, 1), "finish_cpu_s": round(finish_cpu_s, 1),
            "finish_load_average_1min": round(os.getloadavg()[0], 2),
            "finish_steps_s": {k: round(v, 2) for k, v in steps.items()},
            "embedding_reproducible": bool(np.array_equal(coords, stored))}


def measure_rss(run_dir: Path) -> dict[str, float]:
    """Resident memory of this (fresh) process before and after opening the Atlas panel."""
    sys.path.insert(0, str(REPO))
    start = _common.rss_mb()
    import jscatter  # noqa: F401
    import pandas  # noqa: F401

    from cvd_explorer.widgets.atlas import Atlas

    before = _common.rss_mb()
    atlas = Atlas(run_dir)
    after = _common.rss_mb()
    assert atlas.points
    return {"panel_import_rss_mb": round(before - start, 1), "panel_rss_growth_mb": round(after - before, 1)}


def in_subprocess(*args: str) -> dict[str, object]:
    """Run this script with ``args`` in a fresh interpreter; its JSON answer."""
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "cvd-explorer-bench-atlas-panel",
                        help="where the generated run is kept (reused by the next call)")
    parser.add_argument("--images", type=int, default=N, help=f"test images of the atlas (default {N})")
    parser.add_argument("--no-finish", action="store_true", help="skip finish_s (the slow part)")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=("finish", "rss"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = args.images
    if args.prepare:
        print(prepare(args.folder, n))
        return
    run_dir = args.folder / run_name(n)
    if args.measure == "finish":
        print(json.dumps(measure_finish(args.folder, n)))
        return
    if args.measure == "rss":
        print(json.dumps(measure_rss(run_dir)))
        return
    common = ["--folder", str(args.folder), "--images", str(n)]
    if not (run_dir / "atlas" / "test-gradcam" / "summary.json").is_file():
        subprocess.run([sys.executable, __file__, "--prepare", *common], check=True, stdout=subprocess.DEVNULL)
    memory = in_subprocess("--measure", "rss", *common)
    finished = {} if args.no_finish else in_subprocess("--measure", "finish", *common)
    sys.path.insert(0, str(REPO))

    t = time.perf_counter()
    import jscatter  # noqa: F401
    import pandas  # noqa: F401

    import_s = time.perf_counter() - t
    from cvd_explorer.widgets.atlas import Atlas

    t = time.perf_counter()
    atlas = Atlas(run_dir)
    open_first = time.perf_counter() - t
    tf_loaded = "tensorflow" in sys.modules
    opens, opens_cpu = [], []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        Atlas(run_dir).close()
        opens.append(time.perf_counter() - t)
        opens_cpu.append(time.process_time() - c)
    assert len(atlas.points) == n

    t = time.perf_counter()
    explorer = atlas.explorer
    explorer.wait()
    explorer_open = time.perf_counter() - t

    import numpy as np

    rng = np.random.default_rng(1)
    xy = np.asarray([(q.x, q.y) for q in atlas.atlas_points])
    selection_ms, filter_ms, sizes = [], [], []
    for _ in range(args.rounds):
        cx, cy = rng.random(2) * 0.8 + 0.1
        d = 0.12
        inside = np.flatnonzero((abs(xy[:, 0] - cx) < d) & (abs(xy[:, 1] - cy) < d))
        keys = [atlas.points[i] for i in inside[:400]] or atlas.points[:200]
        t = time.perf_counter()
        atlas.selection = keys
        selection_ms.append((time.perf_counter() - t) * 1000)
        assert sorted(explorer.samples) == sorted(keys)
        sizes.append(len(keys))
        explorer.wait()
        atlas.selection = None
        explorer.wait()
        t = time.perf_counter()
        explorer.filter.value = "misclassified"
        filter_ms.append((time.perf_counter() - t) * 1000)
        explorer.wait()
        explorer.filter.value = "all"
        explorer.wait()
    sel, base = statistics.median(selection_ms), statistics.median(filter_ms)
    print(json.dumps({
        "images": n,
        "import_s": round(import_s, 3),
        "open_first_s": round(open_first, 3),
        "open_s_median": round(statistics.median(opens), 3),
        "open_cpu_s_median": round(statistics.median(opens_cpu), 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "open_cold_total_s": round(import_s + open_first, 3),
        "open_target_s": 2.0,
        "tensorflow_loaded_by_open": tf_loaded,
        "explorer_open_s": round(explorer_open, 3),
        "selection_sizes": sizes,
        "selection_to_gallery_ms_median": round(sel, 1),
        "selection_to_gallery_ms": [round(v, 1) for v in selection_ms],
        "selection_target_ms": 200,
        "filter_to_gallery_ms_median": round(base, 1),
        "selection_vs_filter_ratio": round(sel / base, 2) if base else None,
        "rounds": args.rounds,
        **memory,
        "panel_rss_target_mb": 300,
        **finished,
        "finish_target_s": 180,
    }, indent=1))
    atlas.close()
    explorer.close()


if __name__ == "__main__":
    main()
