"""tf.data input pipeline from a split manifest.

Images go through the one loader (:func:`cvd_explorer.data.loader.load_image`): every file the
scanner accepts decodes here the same way. Pixel values stay 0-255 float32: models hold their own
rescaling.

Training (and validation used as a stream) is an endless sequence of passes over the split, pass
``p`` shuffled with seed ``(seed, p)``, each image augmented with a seed derived from its position
in the stream. ``start_batch=k`` starts at global batch k, so the batches of epoch e are a pure
function of ``(seed, e)`` and a resumed run sees exactly the data it would have seen.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from cvd_explorer.data.augment import STUDY_AUGMENTATION, AugmentSpec, augment_image
from cvd_explorer.data.loader import load_image
from cvd_explorer.errors import DataError

if TYPE_CHECKING:
    from cvd_explorer.data.split import Manifest

SPLITS = ("train", "val", "test")
_PASSES = 1_000_000  # "endless": enough passes for any run


def split_arrays(manifest: Manifest, split: str, data_root: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """Absolute image paths and labels of one split, in manifest order.

    Returns:
        (paths, labels) with labels float32 (N,), 1.0 = positive class.
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    root = _data_root(manifest, data_root)
    rows = manifest.split_rows(split)
    if not rows:
        raise DataError(f"manifest {manifest.path} has no images in split {split!r}")
    paths = [str(root / row.path) for row in rows]
    labels = np.array([manifest.label_index(row.label) for row in rows], dtype=np.float32)
    return paths, labels


def make_dataset(
    manifest: Manifest,
    split: str,
    image_size: int,
    batch_size: int,
    *,
    data_root: str | Path | None = None,
    augment: bool | None = None,
    shuffle: bool | None = None,
    seed: int = 0,
    start_batch: int = 0,
    repeat: bool | None = None,
    cache: bool = False,
    augmentation: AugmentSpec = STUDY_AUGMENTATION,
) -> Any:
    """Batches of ``(images float32 (B, S, S, 3) in 0-255, labels float32 (B,))``.

    Args:
        manifest: a :class:`cvd_explorer.data.split.Manifest`.
        split: "train", "val" or "test".
        image_size: side S; images are squashed to S x S as Keras 2 did.
        data_root: folder the manifest's relative paths start from (default: ``manifest.root``,
            else the manifest's folder).
        augment: the study's augmentation; default on for "train" only.
        shuffle, repeat: default on for "train"; a repeating stream is shuffled per pass.
            "test" and non-repeating "val" keep manifest order and end after one pass.
        seed: seeds shuffling and augmentation.
        start_batch: global batch index the stream starts at (only with repeat).
        cache: decode the split once into memory (for small data sets) instead of per batch.
    """
    paths, labels = split_arrays(manifest, split, data_root)
    is_train = split == "train"
    augment = is_train if augment is None else augment
    repeat = is_train if repeat is None else repeat
    shuffle = repeat if shuffle is None else shuffle
    if start_batch and not repeat:
        raise DataError("start_batch needs a repeating stream (repeat=True)")
    n = len(paths)
    order = _index_stream(n, seed, shuffle, repeat, start_batch * batch_size)
    load = _memory_loader(paths, image_size) if cache else _file_loader(paths, image_size)
    label_table = tf.constant(labels)

    def load_one(position: Any, index: Any) -> tuple[Any, Any]:
        image = load(index)
        if augment:
            image = augment_image(image, tf.stack([tf.cast(seed, tf.int64), position]), augmentation)
        return image, tf.gather(label_table, index)

    ds = order.map(load_one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=False)
    return ds.prefetch(tf.data.AUTOTUNE)


def _index_stream(n: int, seed: int, shuffle: bool, repeat: bool, skip: int) -> Any:
    """(global position, image index) pairs; shuffled per pass from seed (seed, pass)."""
    if not repeat:
        indices = tf.data.Dataset.range(n)
        return tf.data.Dataset.zip(tf.data.Dataset.range(n), indices)

    def one_pass(p: Any) -> Any:
        idx = tf.range(n, dtype=tf.int64)
        if shuffle:
            idx = tf.random.experimental.stateless_shuffle(idx, seed=tf.stack([tf.cast(seed, tf.int64), p]))
        return tf.data.Dataset.from_tensor_slices(idx)

    first_pass = skip // n
    passes = tf.data.Dataset.range(first_pass, _PASSES).flat_map(one_pass)
    passes = passes.skip(skip - first_pass * n)
    positions = tf.data.Dataset.range(skip, skip + _PASSES * n)
    return tf.data.Dataset.zip(positions, passes)


def _file_loader(paths: list[str], image_size: int) -> Callable[[Any], Any]:
    path_table = tf.constant(paths)

    def decode(path: bytes) -> np.ndarray:
        return load_image(path.decode(), size=(image_size, image_size))

    def load(index: Any) -> Any:
        image = tf.numpy_function(decode, [tf.gather(path_table, index)], tf.uint8, stateful=False)
        image.set_shape((image_size, image_size, 3))
        return tf.cast(image, tf.float32)

    return load


def _memory_loader(paths: list[str], image_size: int) -> Callable[[Any], Any]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        images = np.stack(list(pool.map(lambda p: load_image(p, size=(image_size, image_size)), paths)))
    table = tf.constant(images)

    def load(index: Any) -> Any:
        return tf.cast(tf.gather(table, index), tf.float32)

    return load


def _data_root(manifest: Manifest, data_root: str | Path | None) -> Path:
    if data_root is not None:
        return Path(data_root)
    if manifest.root is not None:
        return Path(manifest.root)
    if manifest.path is None:
        raise DataError("the manifest has no file location; pass data_root (the folder its paths start from)")
    return Path(manifest.path).parent
