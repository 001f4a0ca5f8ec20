"""Tiny models and an independent gradient oracle for the explain-engine tests."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

SIZE = 16


def tiny_model(head_activation: str | None = "sigmoid", seed: int = 0, size: int = SIZE) -> keras.Model:
    """Input -> conv_a (4 ch) -> conv_b (6 ch) -> avg_pool -> Dense(1) "predictions"."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    out = keras.layers.Dense(1, activation=head_activation, name="predictions")(x)
    return keras.Model(inp, out, name="tiny")


def images(n: int = 3, seed: int = 0, size: int = SIZE) -> np.ndarray:
    """Random RGB 0-255 float32 images ``(n, size, size, 3)``."""
    return np.random.RandomState(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def oracle_acts_grads(model: keras.Model, x: np.ndarray, layer: str, sign: float = 1.0):
    """Activations and gradients of ``sign * z`` at ``layer`` of :func:`tiny_model`, computed by
    calling the layers by hand under a separate tape (independent of the engine's view).

    Returns:
        ``(A (N, h, w, C), G (N, h, w, C), z (N,))`` float64 numpy.
    """
    order = ["rescale", "conv_a", "conv_b", "avg_pool"]
    dense = model.get_layer("predictions")
    h = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        acts = None
        for name in order:
            h = model.get_layer(name)(h)
            if name == layer:
                acts = h
                tape.watch(acts)
        # a watched tensor must be re-used downstream: recompute from acts
        h = acts
        for name in order[order.index(layer) + 1 :]:
            h = model.get_layer(name)(h)
        z = tf.matmul(h, dense.kernel) + dense.bias
        score = tf.reduce_sum(sign * z)
    grads = tape.gradient(score, acts)
    return acts.numpy().astype(np.float64), grads.numpy().astype(np.float64), z.numpy()[:, 0]


def normalize(cam: np.ndarray) -> np.ndarray:
    """ReLU then divide by the per-image maximum (the engine's normalisation), numpy."""
    cam = np.maximum(cam, 0)
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0)


# --- a resnet-mini trained on synthetic cats and dogs, cached across test runs -----------------

SYNTH_SIZE = 64
SYNTH_TRAIN = 2000
SYNTH_TEST = 200
SYNTH_EPOCHS = 30


def synthetic_set(n: int, first_seed: int, size: int = SYNTH_SIZE):
    """``n`` "normal" synthetic images with animal masks: pairs of a cat and a dog drawn from the
    same scene seed (same background and colours, only the animal's shape differs), so the only
    cue a model can learn is the animal.

    Returns:
        ``(images (n, size, size, 3) float32 0-255, labels (n,) int 1 = dog, masks (n, size, size) bool)``.
    """
    from cvd_explorer.data.synthetic import render_sample

    xs, ys, ms = [], [], []
    for i in range(n):
        label = ("cat", "dog")[i % 2]
        img, mask = render_sample(first_seed + i // 2, label, size, "normal")
        xs.append(img)
        ys.append(i % 2)
        ms.append(mask == 1)
    return np.stack(xs).astype(np.float32), np.array(ys), np.stack(ms)


def _fixture_key() -> str:
    import hashlib
    import inspect

    import cvd_explorer.data.synthetic as synthetic
    import cvd_explorer.models as models

    h = hashlib.sha256()
    for module in (synthetic, models):
        h.update((synthetic.source_text() if module is synthetic else inspect.getsource(module)).encode())
    h.update(f"{SYNTH_SIZE}-{SYNTH_TRAIN}-{SYNTH_EPOCHS}-adam1e-3-paired-flip-v2-keras{keras.__version__}".encode())
    return h.hexdigest()[:16]


def trained_synthetic_mini() -> keras.Model:
    """``build("resnet-mini", 64)`` trained on 1,600 synthetic "normal" images, loaded from the cache.

    The cache directory is ``$CVD_EXPLORER_TEST_CACHE`` or ``~/.cache/cvd-explorer/test-fixtures``;
    the file name carries a hash of the generator's and the model builder's source, so a change to
    either retrains. Training uses Adam(1e-3) with binary cross-entropy (not the study's SGD: the
    fixture must converge in a few epochs on a CPU), batch 32, horizontal flips,
    stopping once validation accuracy reaches 0.97.
    """
    import os
    from pathlib import Path

    from cvd_explorer.models import build

    root = Path(os.environ.get("CVD_EXPLORER_TEST_CACHE") or Path.home() / ".cache" / "cvd-explorer" / "test-fixtures")
    path = root / f"synthetic-resnet-mini-{_fixture_key()}.keras"
    if path.is_file():
        return keras.saving.load_model(path, safe_mode=True)
    keras.utils.set_random_seed(0)
    x, y, _ = synthetic_set(SYNTH_TRAIN, 0)
    xv, yv, _ = synthetic_set(SYNTH_TEST, 10_000)
    model = build("resnet-mini", SYNTH_SIZE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])

    class _Enough(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (logs or {}).get("val_accuracy", 0.0) >= 0.97:
                self.model.stop_training = True

    rng = np.random.default_rng(0)

    def batches():
        while True:  # horizontal flips, as the study's augmentation had
            order = rng.permutation(len(x))
            for i in range(0, len(x) - 31, 32):
                idx = order[i : i + 32]
                flip = rng.random(len(idx)) < 0.5
                xb = np.where(flip[:, None, None, None], x[idx, :, ::-1], x[idx])
                yield xb, y[idx]

    model.fit(
        batches(), steps_per_epoch=len(x) // 32, epochs=SYNTH_EPOCHS, validation_data=(xv, yv),
        callbacks=[_Enough()], verbose=2,
    )
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return model
