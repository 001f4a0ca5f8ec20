"""The synthetic demo data is learnable by resnet-mini, and only from the animals' shapes.

Trains the demo's config (``cvd_explorer.cli.demo.demo_config()``: ``DEMO_TRAIN`` with the
warmup-cosine learning-rate schedule) on ``DEMO_DATA`` through the product's training
(``cvd_explorer.runs.train``), then checks the best checkpoint (``model.keras``, the epoch of
highest validation accuracy: what the demo, the Explorer and ``predictions.csv`` use) on the test
split:

* test accuracy >= MIN_BEST_ACCURACY; the last epoch's state >= MIN_LAST_ACCURACY;
* animals removed (the same scenes rendered with ``draw_animal=False``): the mean P(dog) is about
  the same for cat and dog scenes, so background, clutter, person and crate carry no class cue;
* patch-shuffled test images (8 x 8 grid, patches permuted: colour statistics kept, shape
  destroyed) are classified near chance.

Thresholds, from trainings of this test's config with seeds 0, 1, 2 (generator v2, 2 CPU cores
shared with other jobs; test accuracy on 320 images):

    seed  best checkpoint (epoch)  last epoch  training + test evaluation
    0     0.9875 (27)              0.9906      281 s
    1     0.9812 (27)              0.9719      243 s
    2     0.9938 (17)              0.9875      229 s

The same config with the constant lr of before: 0.9906 (last epoch, seed 0, this machine) and
0.925 on another (a fresh clone). MIN_BEST_ACCURACY 0.95 leaves 10 mistakes of margin below the
worst best checkpoint; the last epoch, which the product does not use, is held only loosely.
The best checkpoint is asserted on because it is what the product uses (``model.keras``:
``predictions.csv``, the demo's reported accuracy, the Explorer).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.cli.demo import demo_config
from cvd_explorer.config import TrainConfig
from cvd_explorer.data.loader import load_image
from cvd_explorer.data.synthetic import (
    DEMO_DATA,
    GENERATOR_VERSION,
    JPEG_QUALITY,
    LABELS,
    META_NAME,
    generate,
    render_sample,
)
from cvd_explorer.runs import train
from cvd_explorer.runs.safe_load import load_model_file

GRID = 8
MIN_BEST_ACCURACY = 0.95  # measured 0.981 .. 0.994 (see above)
MIN_LAST_ACCURACY = 0.90  # measured 0.972 .. 0.991


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
    result = train_and_score(tmp_path, demo_config())
    print(f"\nsynthetic v{GENERATOR_VERSION}: {result['text']}")
    assert result["accuracy"] >= MIN_BEST_ACCURACY
    assert result["last_accuracy"] >= MIN_LAST_ACCURACY
    assert abs(result["gap"]) < 0.15
    assert 0.3 <= result["empty_accuracy"] <= 0.7
    assert result["shuffled_accuracy"] < 0.7


def train_and_score(tmp_path: Path, config: TrainConfig) -> dict[str, Any]:
    """Train ``config`` on ``DEMO_DATA`` into ``tmp_path/run`` and score its checkpoints.

    Returns:
        ``accuracy`` (best checkpoint, test split), ``last_accuracy`` (last epoch), ``wrong``
        (mistakes of the best checkpoint by case), ``gap`` and ``empty_accuracy`` (animals
        removed), ``shuffled_accuracy``, ``seconds`` (training and test evaluation), ``best_epoch``,
        ``lr`` (the history's lr column) and ``text`` (all of it in one line).
    """
    data = DEMO_DATA
    root = tmp_path / "synth"
    generate(root, n=data["n"], size=data["size"], seed=data["seed"])
    s = config.image_size
    start = time.monotonic()
    run = train(config, root, tmp_path / "run", progress=False)
    seconds = time.monotonic() - start
    assert run.state == "finished", run.status

    # the best checkpoint's test predictions, as the demo reports them; mistakes by case
    rows = run.predictions or []
    labels = np.array([r["label"] == "dog" for r in rows])
    correct = np.array([r["correct"] for r in rows])
    accuracy = float(correct.mean())
    meta = json.loads((root / META_NAME).read_text())
    by_path = {e["path"]: e for e in meta["images"]}
    entries = [by_path[r["relpath"]] for r in rows]
    wrong: dict[str, int] = {}
    for e, ok in zip(entries, correct, strict=True):
        if not ok:
            wrong[e["case"]] = wrong.get(e["case"], 0) + 1
    model = run.load_model()
    _save_model(model)

    # the last epoch's state
    images = np.stack([load_image(r["path"], size=(s, s)) for r in rows]).astype(np.float32)
    last = load_model_file(run.path / "last" / "last.keras")
    last_accuracy = float(((last.predict(images, batch_size=64, verbose=0)[:, 0] >= 0.5) == labels).mean())

    # (a) the same scenes without the animals
    (tmp_path / "empty").mkdir()
    empty = np.stack([_without_animal(e, data["seed"], data["size"], s, tmp_path / "empty")
                      for e in entries]).astype(np.float32)
    p_empty = model.predict(empty, batch_size=64, verbose=0)[:, 0]
    gap = float(p_empty[labels].mean() - p_empty[~labels].mean())
    empty_accuracy = float(((p_empty >= 0.5) == labels).mean())

    # (b) patch-shuffled test images
    shuffled = _patch_shuffled(images, np.random.default_rng(0))
    p_shuf = model.predict(shuffled, batch_size=64, verbose=0)[:, 0]
    shuffled_accuracy = float(((p_shuf >= 0.5) == labels).mean())

    best_epoch = (run.model_info or {}).get("epoch")
    lr = [r["lr"] for r in run.history]
    text = (f"seed {config.seed}, {config.lr_schedule} lr {config.lr}: test accuracy best checkpoint (epoch "
            f"{best_epoch}) {accuracy:.4f} ({int((~correct).sum())} wrong of {len(correct)}: {wrong}), last epoch "
            f"{last_accuracy:.4f}; training and test {seconds:.0f} s; animals removed: accuracy "
            f"{empty_accuracy:.3f}, mean P(dog) dog scenes - cat scenes {gap:+.3f}; patch-shuffled accuracy "
            f"{shuffled_accuracy:.3f}; val_loss {[round(float(v), 2) for v in run.curve('val_loss')]}")
    return dict(accuracy=accuracy, last_accuracy=last_accuracy, wrong=wrong, gap=gap, empty_accuracy=empty_accuracy,
                shuffled_accuracy=shuffled_accuracy, seconds=seconds, best_epoch=best_epoch, lr=lr, text=text)


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
