"""A run trained like the demo (smaller) on data with a planted shortcut: a magenta square at the
bottom right on half of the cats in every split, and on 35% of the dogs in test only.

Trained once through the product's training and cached like the demo-like run
(:mod:`tests.unit.demo_fixture`), under a key of the sources it depends on. Tests copy it before writing.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.cli.demo import SHORTCUT_DATA, SHORTCUT_TRAIN
from tests.unit.demo_fixture import cache_root

DATA: dict[str, Any] = SHORTCUT_DATA
TRAIN: dict[str, Any] = SHORTCUT_TRAIN
"""The demo notebook's "Find the shortcut" run (:func:`cvd_explorer.cli.demo.shortcut_run`). Measured (2 shared
cores, 120 to 145 s of training): test accuracy 0.55 here (this seed leans on the mark: validation 0.81), 0.77 with
a ring at the top left, 0.74 and 0.58 with bars at the bottom left and the top right; 31 to 33 of the misclassified
test images are marked dogs."""


def _key() -> str:
    import keras

    import cvd_explorer.config as config
    import cvd_explorer.data.pipeline as pipeline
    import cvd_explorer.data.synthetic as synthetic
    import cvd_explorer.models as models
    import cvd_explorer.runs.loop as loop
    from cvd_explorer.cli.demo import demo_config

    h = hashlib.sha256()
    for module in (models, loop, config, pipeline):
        h.update(inspect.getsource(module).encode())
    h.update(synthetic.source_text().encode())
    h.update(json.dumps([DATA, TRAIN, demo_config().to_dict(), keras.__version__], sort_keys=True).encode())
    return h.hexdigest()[:16]


def shortcut_run() -> Path:
    """The finished run folder; its data folder (with ``synth-truth.json``) is beside it."""
    from cvd_explorer.cli.demo import shortcut_run as train_shortcut

    base = cache_root() / f"shortcut-run-{_key()}"
    return train_shortcut(base / "run", base / "data", progress=False)


def cue_boxes(run_dir: Path) -> dict[str, list[int]]:
    """``{relative path: [x0, y0, x1, y1]}`` of every image that carries the cue."""
    from cvd_explorer.runs import Run

    truth = json.loads((Path(Run(run_dir).data_root) / "synth-truth.json").read_text())
    return {e["path"]: e["box"] for e in truth["shortcut"]["images"]}


def wrong_marked(atlas: Any, boxes: dict[str, list[int]]) -> list[str]:
    """Paths of the misclassified test images that carry the cue (the marked dogs called cats)."""
    return [r.path for r in atlas.rows if r.path in boxes and not r.correct]


def slice_figures(atlas: Any, boxes: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Per slice of ``atlas.summary["slices"]``, in rank order: ``{"size", "error_rate", "q_value",
    "cue_share"`` (of its images that carry the cue), ``"coverage"`` (of the misclassified marked images
    inside it)``}``."""
    wrong = set(wrong_marked(atlas, boxes))
    return [{"size": s["size"], "error_rate": s["error_rate"], "q_value": s["q_value"],
             "cue_share": float(np.mean([p in boxes for p in s["paths"]])),
             "coverage": len(set(s["paths"]) & wrong) / max(1, len(wrong))} for s in atlas.summary["slices"]]


def similar_cue_shares(atlas: Any, boxes: dict[str, list[int]], k: int = 10) -> list[float]:
    """Per misclassified marked image, the share of marked images among its ``k`` nearest (``atlas.similar``)."""
    return [float(np.mean([p in boxes for p, _ in atlas.similar(path, k=k)])) for path in wrong_marked(atlas, boxes)]


def cam_hits(run_dir: Path, atlas: Any, boxes: dict[str, list[int]]) -> tuple[dict[str, float], float]:
    """Per conv layer, the share of misclassified marked images whose Grad-CAM (for the predicted class) peaks
    on the mark (its box, 2 px of slack); and the share of the image such a box covers on average."""
    from PIL import Image

    from cvd_explorer.explain.engine import compute_cams
    from cvd_explorer.runs import Run

    paths = wrong_marked(atlas, boxes)
    run = Run(run_dir)
    size = run.config.image_size
    images = [Image.open(run.data_root / p).convert("RGB") for p in paths]
    x = np.stack([np.asarray(im.resize((size, size)), np.float32) for im in images])
    cams = compute_cams(run.load_model(), x, None, "gradcam", "predicted", classes=run.classes)
    hits = np.zeros((len(paths), len(cams)), bool)
    for j, maps in enumerate(cams.values()):
        for i, (path, image) in enumerate(zip(paths, images, strict=True)):
            scale = size / image.size[0]
            x0, y0, x1, y1 = (v * scale for v in boxes[path])
            py, px = np.unravel_index(np.argmax(maps[i]), maps[i].shape)
            hits[i, j] = x0 - 2 <= px < x1 + 2 and y0 - 2 <= py < y1 + 2
    box_share = float(np.mean([(b[2] - b[0] + 4) * (b[3] - b[1] + 4) for b in boxes.values()])) / size**2
    return dict(zip(cams, hits.mean(axis=0).tolist(), strict=True)), box_share


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.unit.shortcut_fixture CUE PLACE FOLDER``: train a run like the fixture's with another
    cue and place into FOLDER (reused when finished), compute its atlas and print the test's figures."""
    import argparse

    from cvd_explorer.atlas import compute_atlas
    from cvd_explorer.cli.demo import shortcut_run as train_shortcut

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("cue")
    parser.add_argument("place")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    run_dir = train_shortcut(args.folder / "run", args.folder / "data", progress=False, cue=args.cue,
                             place=args.place)
    atlas = compute_atlas(run_dir)
    boxes = cue_boxes(run_dir)
    rows = atlas.rows
    print(f"test accuracy {np.mean([r.correct for r in rows]):.3f}; {len(wrong_marked(atlas, boxes))} of "
          f"{sum(not r.correct for r in rows)} misclassified images are marked")
    for rank, s in enumerate(slice_figures(atlas, boxes)[:5], 1):
        print(f"slice {rank}: " + ", ".join(f"{k} {v:.3g}" for k, v in s.items()))
    shares = similar_cue_shares(atlas, boxes)
    print(f"similar: median cue share {np.median(shares):.2f} (min {min(shares):.2f})")
    hits, box_share = cam_hits(run_dir, atlas, boxes)
    best = max(hits, key=hits.__getitem__)
    print(f"Grad-CAM peak on the mark: {hits[best]:.2f} at {best} (a box covers {box_share:.3f} of the image)")


if __name__ == "__main__":
    main()
