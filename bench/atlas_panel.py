"""Atlas panel responsiveness on a synthetic 4,000-image atlas.

Prints one JSON object:

- ``import_s``: importing jupyter-scatter and pandas (paid once per kernel, by the first Atlas);
- ``open_first_s`` and ``open_s_median``: ``Atlas(run)`` on the 4,000-image atlas, the first in the
  process and then warm (median); target <= 2 s for ``import_s + open_first_s``;
  ``tensorflow_loaded_by_open`` must be false (the model loads only when an image is opened);
- ``explorer_open_s``: creating the linked Explorer (TensorFlow and the model), for reference;
- ``selection_to_gallery_ms_median``: ``atlas.selection = keys`` (a box of about 200 points, a new
  one each round) until the Explorer's gallery shows them (restriction, filters, the first page of
  thumbnails decoded), target <= 200 ms; against ``filter_to_gallery_ms_median``, the Explorer's own
  prediction filter switched in the same rounds (alternating), the baseline.

The run is the test suite's small trained run (resnet-mini at 32 px) given a 4,000-image test split
of generated JPEGs, random predictions and an atlas written directly with
:mod:`cvd_explorer.atlas.store` (no engine pass): the panel reads only those files.

Usage: ``python bench/atlas_panel.py [--rounds N] [--folder DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
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


def prepare(folder: Path) -> Path:
    """The benchmark's run (made once, in a subprocess that may import TensorFlow)."""
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
    run_dir = folder / "run4k"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    shutil.copytree(base, run_dir, ignore=shutil.ignore_patterns("atlas", "tensorboard"))
    rng = np.random.default_rng(0)
    data = folder / "data4k"
    labels = rng.integers(0, 2, N)
    classes = ("cat", "dog")
    paths = []
    for i in range(N):
        rel = f"test/{classes[labels[i]]}.{i}.jpg"
        paths.append(rel)
        target = data / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            colour = (200, 120, 60) if labels[i] else (60, 120, 200)
            pixels = np.clip(rng.normal(colour, 40, (48, 48, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(target, quality=85)
    groups = [f"g{i // 2}" if i < 200 else "" for i in range(N)]  # 100 pairs of copies (in the atlas rows)
    manifest = "# cvd-explorer manifest v1 seed=0 layout=kaggle classes=cat,dog\npath,label,split\n" + "".join(
        f"{p},{classes[y]},test\n" for p, y in zip(paths, labels, strict=True))
    (run_dir / "manifest.csv").write_text(manifest)
    meta = json.loads((run_dir / "config.json").read_text())
    meta["data_root"] = str(data)
    meta["manifest"]["sha256"] = hashlib.sha256(manifest.encode()).hexdigest()
    (run_dir / "config.json").write_text(json.dumps(meta, indent=1))
    flip = rng.random(N) < 0.07
    p = np.where(labels == 1, rng.beta(8, 2, N), rng.beta(2, 8, N))
    p = np.where(flip, 1 - p, p)
    predicted = (p > 0.5).astype(int)
    correct = predicted == labels
    loss = -np.log(np.where(labels == 1, p, 1 - p))
    with open(run_dir / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "prob", "predicted", "correct", "loss"])
        for k in range(N):
            w.writerow([paths[k], classes[labels[k]], p[k], classes[predicted[k]], int(correct[k]), loss[k]])

    run = Run(run_dir)
    layers, blocks = small.layers, list(small.summary["blocks"])
    folder_a = store.atlas_dir(run_dir, "test", "gradcam")
    folder_a.mkdir(parents=True, exist_ok=True)
    centres = rng.random((8, 2))
    xy = np.clip(centres[rng.integers(0, 8, N)] + rng.normal(0, 0.05, (N, 2)), 0, 1).astype(np.float32)
    score = np.where(correct, rng.uniform(0.3, 1, N), rng.uniform(0, 0.4, N))
    suspect = score < 0.1
    store.write_rows(folder_a / store.IMAGES, [
        AtlasRow(paths[k], classes[labels[k]], classes[predicted[k]], float(p[k]), float(loss[k]), bool(correct[k]),
                 float(xy[k, 0]), float(xy[k, 1]), groups[k], False, float(score[k]), bool(suspect[k]))
        for k in range(N)])
    L = len(layers)
    stats = {name: rng.random((N, L)).astype(np.float32) for name in
             ("agreement", "concentration", "centroid_y", "centroid_x", "mass_in_mask", "pointing_hit", "blank")}
    store.write_npz(folder_a / store.ARRAYS, {"features": rng.random((N, 64)).astype(np.float16), "embedding": xy,
                                              "thumbs": rng.random((N, 32, 32)).astype(np.float16),
                                              "logits": np.log(p / (1 - p)).astype(np.float32),
                                              "has_mask": np.ones(N, bool)})
    store.write_npz(folder_a / store.LAYER_STATS, {**stats, "layers": np.asarray(layers, dtype=str)})
    store.write_npz(folder_a / store.MEAN_CAMS, {"maps": rng.random((len(blocks), 4, 32, 32)).astype(np.float32),
                                                 "counts": np.full((len(blocks), 4), N // 4),
                                                 "blocks": np.asarray(blocks, dtype=str),
                                                 "groups": np.asarray(group_names(classes), dtype=str)})
    (folder_a / store.LABEL_ISSUES).write_text("path,label,suggested,score\n")
    summary = dict(small.summary, images=N, misclassified=int((~correct).sum()),
                   depth=depth_curves(layers, stats, correct, labels, classes, with_masks=True).to_json(),
                   suspected_label_errors=[])
    store.write_json(folder_a / store.SUMMARY, summary)
    index = store.read_index(small.folder) or {}
    key = dict(index["key"], manifest_sha256=meta["manifest"]["sha256"], masks=None)  # data4k has no masks
    store.write_json(folder_a / store.INDEX, dict(index, key=key, state="complete", images=N))
    assert len(run.predictions or []) == N
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "cvd-explorer-bench-atlas-panel",
                        help="where the generated run is kept (reused by the next call)")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        print(prepare(args.folder))
        return
    run_dir = args.folder / "run4k"
    if not (run_dir / "atlas" / "test-gradcam" / "summary.json").is_file():
        subprocess.run([sys.executable, __file__, "--prepare", "--folder", str(args.folder)], check=True,
                       stdout=subprocess.DEVNULL)
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
    opens = []
    for _ in range(3):
        t = time.perf_counter()
        Atlas(run_dir).close()
        opens.append(time.perf_counter() - t)
    assert len(atlas.points) == N

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
        "images": N,
        "import_s": round(import_s, 3),
        "open_first_s": round(open_first, 3),
        "open_s_median": round(statistics.median(opens), 3),
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
    }, indent=1))
    atlas.close()
    explorer.close()


if __name__ == "__main__":
    main()
