"""tf.data input pipeline from a split manifest.

Images decode as the one loader (:func:`cvd_explorer.data.loader.load_image`) decodes them: the
files TensorFlow decodes to the same pixels (plain JPEG and 8-bit PNG, no EXIF rotation) are read
and squashed inside the graph, without the GIL (:mod:`cvd_explorer.data.tf_decode`); the rest
go through the loader in Python. A header check decides once per file. Pixel values stay 0-255
float32: models hold their own rescaling.

Training (and validation used as a stream) is an endless sequence of passes over the split, pass
``p`` shuffled with seed ``(seed, p)``, each image augmented in graph with a stateless seed
``(seed, position in the stream)``. ``start_batch=k`` starts at global batch k, so the batches of
epoch e are a pure function of ``(seed, e)`` and a resumed run sees exactly the data it would have
seen. The parallel map keeps its order (``deterministic=True``).

The warp (bilinear resampling) costs more than the decode. With ``defer_warp=True`` the stream
carries each image's transform instead of applying it: batches are
``((images uint8 (B, S, S, 3), transforms float32 (B, 8)), labels)`` and the consumer warps the
whole batch in one op (:func:`cvd_explorer.data.augment.warp`); the training loop does it as the
first op of its train step, on the model's device. The transforms are drawn from the same seeds,
so the warped batch equals the in-pipeline one bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from cvd_explorer.data.augment import STUDY_AUGMENTATION, AugmentSpec, transform_vector, warp
from cvd_explorer.data.tf_decode import make_decoder, plan_decoding
from cvd_explorer.errors import DataError

if TYPE_CHECKING:
    from cvd_explorer.data.split import Manifest

SPLITS = ("train", "val", "test")
_PASSES = 1_000_000  # "endless": enough passes for any run
_CACHE_BATCH = 64


@dataclass(frozen=True)
class DatasetOptions:
    """How :func:`make_dataset` streams a split (defaults follow the split: see its fields).

    Attributes:
        data_root: folder the manifest's relative paths start from (default: ``manifest.root``,
            else the manifest's folder).
        augment: the study's augmentation; default on for "train" only.
        shuffle: default on for a repeating stream (shuffled per pass).
        repeat: default on for "train". "test" and non-repeating "val" keep manifest order and
            end after one pass.
        seed: seeds shuffling and augmentation.
        start_batch: global batch index the stream starts at (only with repeat).
        cache: decode the split once into memory (for small data sets) instead of per batch.
        augmentation: the transform's ranges.
        threads: tf.data parallelism (parallel calls and a private thread pool of that size);
            default AUTOTUNE on the shared pool.
        defer_warp: when augmenting, stream the unwarped uint8 images with their transforms
            (see the module docstring) for the consumer to warp; no effect without augmentation.
    """

    data_root: str | Path | None = None
    augment: bool | None = None
    shuffle: bool | None = None
    repeat: bool | None = None
    seed: int = 0
    start_batch: int = 0
    cache: bool = False
    augmentation: AugmentSpec = STUDY_AUGMENTATION
    threads: int | None = None
    defer_warp: bool = False

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise DataError(f"threads must be at least 1 (or None for AUTOTUNE), got {self.threads}")
        if self.start_batch < 0:
            raise DataError(f"start_batch must be 0 or more, got {self.start_batch}")


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
    manifest: Manifest, split: str, image_size: int, batch_size: int, options: DatasetOptions | None = None
) -> Any:
    """Batches of ``(images float32 (B, S, S, 3) in 0-255, labels float32 (B,))``.

    With augmentation and ``options.defer_warp``: ``((images uint8 (B, S, S, 3), transforms
    float32 (B, 8)), labels)``, the images not yet warped.

    Args:
        manifest: a :class:`cvd_explorer.data.split.Manifest`.
        split: "train", "val" or "test".
        image_size: side S; images are squashed to S x S as Keras 2 did.
        batch_size: images per batch (the last batch of a finite stream may be smaller).
        options: see :class:`DatasetOptions` (default: the split's defaults, seed 0).
    """
    opts = options or DatasetOptions()
    paths, labels = split_arrays(manifest, split, opts.data_root)
    is_train = split == "train"
    augment = is_train if opts.augment is None else opts.augment
    repeat = is_train if opts.repeat is None else opts.repeat
    shuffle = repeat if opts.shuffle is None else opts.shuffle
    if opts.start_batch and not repeat:
        raise DataError("start_batch needs a repeating stream (repeat=True)")
    parallel = tf.data.AUTOTUNE if opts.threads is None else opts.threads
    order = _index_stream(len(paths), opts.seed, shuffle, repeat, opts.start_batch * batch_size)
    decode = make_decoder(plan_decoding(paths), image_size)
    load = _memory_loader(decode, len(paths), parallel) if opts.cache else decode
    label_table = tf.constant(labels)
    seed = tf.constant(opts.seed, tf.int64)
    size, spec = image_size, opts.augmentation

    def load_one(position: Any, index: Any) -> tuple[Any, Any]:
        image, label = load(index), tf.gather(label_table, index)
        if not augment:
            return tf.cast(image, tf.float32), label
        transform = transform_vector(tf.stack([seed, position]), size, size, spec)
        if opts.defer_warp:
            return (image, transform), label
        return warp(tf.cast(image, tf.float32)[tf.newaxis], transform[tf.newaxis])[0], label

    ds = order.map(load_one, num_parallel_calls=parallel, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=False).prefetch(tf.data.AUTOTUNE)
    if opts.threads is not None:
        threading = tf.data.Options()
        threading.threading.private_threadpool_size = opts.threads
        threading.threading.max_intra_op_parallelism = 1
        ds = ds.with_options(threading)
    return ds


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


def _memory_loader(decode: Callable[[Any], Any], n: int, parallel: int) -> Callable[[Any], Any]:
    """Decode the split once (in graph, in parallel, in order) into a uint8 (N, S, S, 3) constant."""
    ds = tf.data.Dataset.range(n).map(decode, num_parallel_calls=parallel, deterministic=True)
    images = np.concatenate(list(ds.batch(_CACHE_BATCH).as_numpy_iterator()))
    table = tf.constant(images)

    def load(index: Any) -> Any:
        return tf.gather(table, index)

    return load


def _data_root(manifest: Manifest, data_root: str | Path | None) -> Path:
    if data_root is not None:
        return Path(data_root)
    if manifest.root is not None:
        return Path(manifest.root)
    if manifest.path is None:
        raise DataError("the manifest has no file location; pass data_root (the folder its paths start from)")
    return Path(manifest.path).parent
