"""The synthetic demo data is learnable by resnet-mini, and only from the animals' shapes.

Trains ``DEMO_TRAIN`` on ``DEMO_DATA`` through the project's pipeline (``make_dataset``) and
reference compile (``compile_reference``), then checks on the test split:

* test accuracy >= 0.95;
* animals removed (the same scenes rendered with ``draw_animal=False``): the mean P(dog) is about
  the same for cat and dog scenes, so background, clutter, person and crate carry no class cue;
* patch-shuffled test images (8 x 8 grid, patches permuted: colour statistics kept, shape
  destroyed) are classified near chance.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.data.loader import load_image
from cvd_explorer.data.pipeline import make_dataset, split_arrays
from cvd_explorer.data.split import ensure_manifest
from cvd_explorer.data.synthetic import (
    DEMO_DATA,
    DEMO_TRAIN,
    GENERATOR_VERSION,
    JPEG_QUALITY,
    LABELS,
    META_NAME,
    generate,
    render_sample,
)

GRID = 8


def _without_animal(entry: dict, seed: int, size: int, image_size: int, tmp: Path) -> np.ndarray:
    """The scene of ``entry`` with its animals left out (how ``generate`` seeds image
    ``<label>.<i>``: ``[seed, class index, i]``), written as JPEG and loaded as training loads it."""
    label, index = Path(entry["path"]).stem.split(".")
    image, _ = render_sample([seed, LABELS.index(label), int(index)], label, size, entry["case"],
                             draw_animal=False)
    path = tmp / f"{label}.{index}.jpg"
    Image.fromarray(image, "RGB").save(path, "JPEG", quality=JPEG_QUALITY)
    return load_image(path, size=(image_size, image_size))


def _patch_shuffled(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, S, S, 3) images cut into GRID x GRID patches, randomly permuted per image."""
    n, s = images.shape[:2]
    p = s // GRID
    out = images.copy()
    for k in range(n):
        tiles = [images[k, r * p:(r + 1) * p, c * p:(c + 1) * p] for r in range(GRID) for c in range(GRID)]
        for j, t in enumerate(rng.permutation(len(tiles))):
            r, c = divmod(j, GRID)
            out[k, r * p:(r + 1) * p, c * p:(c + 1) * p] = tiles[t]
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_resnet_mini_learns_the_shapes_not_the_colours(tmp_path):
    import keras

    from cvd_explorer.models import build, compile_reference

    cfg, data = DEMO_TRAIN, DEMO_DATA
    root = tmp_path / "synth"
    generate(root, n=data["n"], size=data["size"], seed=data["seed"])
    manifest, _ = ensure_manifest(root)
    s, batch = cfg["image_size"], cfg["batch_size"]

    keras.utils.set_random_seed(0)
    train = make_dataset(manifest, "train", s, batch, seed=0, cache=cfg["cache_images"],
                         augment=cfg["augment"])
    val = make_dataset(manifest, "val", s, batch, cache=cfg["cache_images"], repeat=False)
    model = compile_reference(build(cfg["arch"], s), cfg["lr"], cfg["momentum"])
    start = time.monotonic()
    model.fit(train, steps_per_epoch=cfg["steps_per_epoch"], epochs=cfg["epochs"], validation_data=val,
              validation_steps=None if cfg["val_steps"] == "all" else cfg["val_steps"], verbose=0)
    seconds = time.monotonic() - start

    # test accuracy, and mistakes by case
    paths, labels = split_arrays(manifest, "test")
    images = np.stack([load_image(p, size=(s, s)) for p in paths]).astype(np.float32)
    p_dog = model.predict(images, batch_size=64, verbose=0)[:, 0]
    correct = (p_dog >= 0.5) == (labels == 1)
    accuracy = float(correct.mean())
    meta = json.loads((root / META_NAME).read_text())
    by_path = {e["path"]: e for e in meta["images"]}
    entries = [by_path[str(Path(p).relative_to(root))] for p in paths]
    wrong: dict[str, int] = {}
    for e, ok in zip(entries, correct):
        if not ok:
            wrong[e["case"]] = wrong.get(e["case"], 0) + 1

    # (a) the same scenes without the animals
    (tmp_path / "empty").mkdir()
    empty = np.stack([_without_animal(e, data["seed"], data["size"], s, tmp_path / "empty")
                      for e in entries]).astype(np.float32)
    p_empty = model.predict(empty, batch_size=64, verbose=0)[:, 0]
    gap = float(p_empty[labels == 1].mean() - p_empty[labels == 0].mean())
    empty_acc = float(((p_empty >= 0.5) == (labels == 1)).mean())

    # (b) patch-shuffled test images
    shuffled = _patch_shuffled(images, np.random.default_rng(0))
    p_shuf = model.predict(shuffled, batch_size=64, verbose=0)[:, 0]
    shuffled_acc = float(((p_shuf >= 0.5) == (labels == 1)).mean())

    print(f"\nsynthetic v{GENERATOR_VERSION}: test accuracy {accuracy:.4f} ({int((~correct).sum())} wrong "
          f"of {len(correct)}: {wrong}), training {seconds:.0f} s; animals removed: accuracy "
          f"{empty_acc:.3f}, mean P(dog) dog scenes - cat scenes {gap:+.3f}; patch-shuffled "
          f"accuracy {shuffled_acc:.3f}")
    _save_model(model)

    assert accuracy >= 0.95
    assert abs(gap) < 0.15
    assert 0.3 <= empty_acc <= 0.7
    assert shuffled_acc < 0.7


def _save_model(model) -> None:
    """Keep the trained model for other tests and demos (a few hundred kB); failures are ignored."""
    cache = Path(os.environ.get("CVD_EXPLORER_TEST_CACHE")
                 or Path.home() / ".cache" / "cvd-explorer" / "test-fixtures")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"synthetic-mini-{GENERATOR_VERSION}.tmp.keras"
        model.save(tmp)
        os.replace(tmp, cache / f"synthetic-mini-{GENERATOR_VERSION}.keras")
    except OSError:
        pass
