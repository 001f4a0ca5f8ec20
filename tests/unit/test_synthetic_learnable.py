"""The synthetic demo data is learnable by resnet-mini, and only from the animals' shapes.

Trains the demo's config (``cvd_explorer.cli.demo.demo_config()``: ``DEMO_TRAIN`` with the
warmup-cosine learning-rate schedule) on ``DEMO_DATA`` as the product's training does (its data
streams, compile and best-epoch rule, without its files), then checks the best checkpoint (the
epoch of highest validation accuracy: ``model.keras``, what the demo, the Explorer and
``predictions.csv`` use) on the test split:

* test accuracy >= MIN_BEST_ACCURACY; the last epoch's state >= MIN_LAST_ACCURACY;
* animals removed (the same scenes rendered with ``draw_animal=False``): the mean P(dog) is about
  the same for cat and dog scenes, so background, clutter, person and crate carry no class cue;
* patch-shuffled test images (8 x 8 grid, patches permuted: colour statistics kept, shape
  destroyed) are classified near chance.

Thresholds, from trainings of this test's config with seeds 0, 1, 2 (generator v2, 2 CPU cores
shared with other jobs; test accuracy on 320 images):

    seed  best checkpoint (epoch)  last epoch  training + test evaluation
    0     0.9875 (27)              0.9906      281 s (cvd_explorer.runs.train)
    1     0.9812 (27)              0.9719      243 s (cvd_explorer.runs.train)
    2     0.9938 (17)              0.9875      229 s (cvd_explorer.runs.train)

(trained by ``cvd_explorer.runs.train``; this test's ``model.fit`` gave the same figures to the
last digit for seed 0, in 188 s of training.) The same config with the constant lr of before:
0.9906 (last epoch, seed 0, this machine) and 0.925 on another (a fresh clone).
MIN_BEST_ACCURACY 0.95 leaves 10 mistakes of margin below the worst best checkpoint; the last
epoch, which the product does not use, is held only loosely.
Seeded runs are reproducible on one machine: a second training with seed 0, and one with
``tf.config.experimental.enable_op_determinism()``, gave the same figures to the last digit.
The best checkpoint is asserted on because it is what the product uses (``model.keras``:
``predictions.csv``, the demo's reported accuracy, the Explorer).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from PIL import Image

from cvd_explorer.cli.demo import demo_config
from cvd_explorer.config import TrainConfig
from cvd_explorer.data.loader import load_image
from cvd_explorer.data.pipeline import make_dataset, split_arrays
from cvd_explorer.data.split import ensure_manifest
from cvd_explorer.data.synthetic import (
    DEMO_DATA,
    GENERATOR_VERSION,
    JPEG_QUALITY,
    LABELS,
    META_NAME,
    generate,
    render_sample,
)

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
    """Train ``config`` on ``DEMO_DATA`` as ``cvd_explorer.runs.train`` does and score its checkpoints.

    The same data streams (``make_dataset``), seed, compile (``compile_reference`` with the
    schedule) and choice of the best epoch (highest validation accuracy, first of equals) as the
    product's training, without its per-epoch files (they would make this test slower).

    Returns:
        ``accuracy`` (best checkpoint, test split), ``last_accuracy`` (last epoch), ``wrong``
        (mistakes of the best checkpoint by case), ``gap`` and ``empty_accuracy`` (animals
        removed), ``shuffled_accuracy``, ``seconds`` (training), ``best_epoch``, ``lr`` (per
        epoch, as history.csv records it) and ``text`` (all of it in one line).
    """
    from cvd_explorer.models import build, compile_reference

    data = DEMO_DATA
    root = tmp_path / "synth"
    generate(root, n=data["n"], size=data["size"], seed=data["seed"])
    manifest, _ = ensure_manifest(root)
    s, batch, steps = config.image_size, config.batch_size, config.steps_per_epoch

    keras.utils.set_random_seed(config.seed)
    train_ds = make_dataset(manifest, "train", s, batch, seed=config.seed, cache=config.cache_images,
                            augment=config.augment)
    val = make_dataset(manifest, "val", s, batch, cache=config.cache_images, repeat=False)
    model = compile_reference(build(config.arch, s), config.lr, config.momentum, config.lr_schedule,
                              config.epochs * steps, steps)
    best = _BestEpoch()
    start = time.monotonic()
    model.fit(train_ds, steps_per_epoch=steps, epochs=config.epochs, validation_data=val,
              validation_steps=None if config.val_steps == "all" else config.val_steps, verbose=0,
              callbacks=[best])
    seconds = time.monotonic() - start

    paths, label_ids = split_arrays(manifest, "test")
    labels = label_ids == 1
    images = np.stack([load_image(p, size=(s, s)) for p in paths]).astype(np.float32)
    last_accuracy = float(((model.predict(images, batch_size=64, verbose=0)[:, 0] >= 0.5) == labels).mean())
    model.set_weights(best.weights)  # the best checkpoint, as model.keras holds it

    # test accuracy of the best checkpoint, and its mistakes by case
    correct = (model.predict(images, batch_size=64, verbose=0)[:, 0] >= 0.5) == labels
    accuracy = float(correct.mean())
    meta = json.loads((root / META_NAME).read_text())
    by_path = {e["path"]: e for e in meta["images"]}
    entries = [by_path[str(Path(p).relative_to(root))] for p in paths]
    wrong: dict[str, int] = {}
    for e, ok in zip(entries, correct, strict=True):
        if not ok:
            wrong[e["case"]] = wrong.get(e["case"], 0) + 1
    _save_model(model)

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

    best_epoch, lr = best.epoch, best.lr
    text = (f"seed {config.seed}, {config.lr_schedule} lr {config.lr}: test accuracy best checkpoint (epoch "
            f"{best_epoch}) {accuracy:.4f} ({int((~correct).sum())} wrong of {len(correct)}: {wrong}), last epoch "
            f"{last_accuracy:.4f}; training {seconds:.0f} s; animals removed: accuracy "
            f"{empty_accuracy:.3f}, mean P(dog) dog scenes - cat scenes {gap:+.3f}; patch-shuffled accuracy "
            f"{shuffled_accuracy:.3f}; val_loss {[round(v, 2) for v in best.val_loss]}")
    return dict(accuracy=accuracy, last_accuracy=last_accuracy, wrong=wrong, gap=gap, empty_accuracy=empty_accuracy,
                shuffled_accuracy=shuffled_accuracy, seconds=seconds, best_epoch=best_epoch, lr=lr, text=text)


class _BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch of highest validation accuracy (the first of equals, as the
    training loop's ``model.keras``), and each epoch's validation loss and learning rate."""

    def __init__(self) -> None:
        super().__init__()
        self.accuracy, self.epoch, self.weights = -1.0, 0, []
        self.val_loss: list[float] = []
        self.lr: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        self.val_loss.append(float(logs["val_loss"]))
        self.lr.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        if logs["val_accuracy"] > self.accuracy:
            self.accuracy, self.epoch, self.weights = logs["val_accuracy"], epoch + 1, self.model.get_weights()


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
