"""tf.data pipeline: shapes, ranges, order, exact resumable streams, augmentation on train only."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cvd_explorer.data.augment import augment_image, warp
from cvd_explorer.data.loader import load_image
from cvd_explorer.data.pipeline import DatasetOptions, make_dataset, split_arrays
from cvd_explorer.data.scan import scan
from cvd_explorer.data.split import Manifest, ManifestRow, ensure_manifest
from cvd_explorer.errors import DataError

from .data_fixtures import blocks, save
from .image_fixtures import photo

N_PER_CLASS = 6


def _colour(label: str, i: int) -> tuple[int, int, int]:
    """A solid colour that identifies the image: red channel = 20 * i, green = class."""
    return (20 * i + 10, 40 if label == "cat" else 200, 90)


@pytest.fixture()
def solid_manifest(tmp_path) -> Manifest:
    """12 solid-colour PNGs (6 per class); each split gets 2 cats and 2 dogs."""
    rows = []
    for label in ("cat", "dog"):
        for i in range(N_PER_CLASS):
            rel = f"train/{label}.{i}.png"
            save(tmp_path / rel, np.full((10, 14, 3), _colour(label, i), np.uint8))
            rows.append(ManifestRow(rel, label, ("train", "val", "test")[i % 3]))
    manifest = Manifest(rows=rows, seed=0, classes=("cat", "dog"), layout="kaggle", path=tmp_path / "manifest.csv")
    return manifest


def _identities(images: np.ndarray) -> list[tuple[int, int]]:
    """(red, green) of each solid image's centre pixel."""
    return [(int(round(im[4, 4, 0])), int(round(im[4, 4, 1]))) for im in images]


def test_test_split_is_finite_ordered_unaugmented(solid_manifest):
    ds = make_dataset(solid_manifest, "test", image_size=8, batch_size=3)
    batches = list(ds.as_numpy_iterator())
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert [len(b[0]) for b in batches] == [3, 1]  # finite, last batch smaller
    assert images.dtype == np.float32 and images.shape == (4, 8, 8, 3)
    rows = solid_manifest.split_rows("test")
    expected = [(_colour(r.label, int(r.path.split(".")[1]))[:2]) for r in rows]
    assert _identities(images) == expected  # manifest order, exact pixels (no augmentation)
    np.testing.assert_array_equal(labels, [solid_manifest.label_index(r.label) for r in rows])
    assert images.min() >= 0 and images.max() <= 255


def test_train_stream_is_shuffled_per_pass_and_endless(solid_manifest):
    ds = make_dataset(solid_manifest, "train", 8, 2, DatasetOptions(augment=False, seed=3))
    ids = _identities(np.concatenate([b[0] for b in ds.take(8).as_numpy_iterator()]))
    n = len(solid_manifest.split_rows("train"))
    first, second = ids[:n], ids[n : 2 * n]
    assert sorted(first) == sorted(second) and len(set(first)) == n  # each pass is a permutation
    passes = [ids[k * n : (k + 1) * n] for k in range(len(ids) // n)]
    assert len({tuple(p) for p in passes}) > 1  # reshuffled from pass to pass


def test_start_batch_reproduces_the_stream_exactly(solid_manifest):
    full = make_dataset(solid_manifest, "train", 8, 3, DatasetOptions(seed=5))
    resumed = make_dataset(solid_manifest, "train", 8, 3, DatasetOptions(seed=5, start_batch=3))
    expected = [b for b in full.take(6).as_numpy_iterator()][3:]
    got = list(resumed.take(3).as_numpy_iterator())
    for (xa, ya), (xb, yb) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(xa, xb)  # same images AND same augmentation
        np.testing.assert_array_equal(ya, yb)


def test_augmentation_applies_to_train_only(solid_manifest, tmp_path):
    textured = blocks(32, 32)
    for row in solid_manifest.rows:
        save(tmp_path / row.path, textured)
    train = next(iter(make_dataset(solid_manifest, "train", 16, 4, DatasetOptions(seed=1))))[0].numpy()
    plain = load_image(tmp_path / solid_manifest.rows[0].path, size=(16, 16)).astype(np.float32)
    assert all(not np.array_equal(im, plain) for im in train)
    for split in ("val", "test"):
        for im in next(iter(make_dataset(solid_manifest, split, 16, batch_size=4)))[0].numpy():
            np.testing.assert_array_equal(im, plain)


def test_cache_gives_the_same_batches(solid_manifest):
    a = list(make_dataset(solid_manifest, "train", 8, 2, DatasetOptions(seed=2)).take(3).as_numpy_iterator())
    cached = make_dataset(solid_manifest, "train", 8, 2, DatasetOptions(seed=2, cache=True))
    b = list(cached.take(3).as_numpy_iterator())
    for (xa, _), (xb, _) in zip(a, b, strict=True):
        np.testing.assert_allclose(xa, xb, atol=1e-4)


def test_bad_arguments_are_named(solid_manifest):
    with pytest.raises(DataError, match="unknown split 'training'"):
        split_arrays(solid_manifest, "training")
    with pytest.raises(DataError, match="start_batch"):
        make_dataset(solid_manifest, "test", 8, 2, DatasetOptions(start_batch=1))
    with pytest.raises(DataError, match="threads must be at least 1"):
        DatasetOptions(threads=0)


def _odd_but_valid_images(root):
    """Every kind of file the scanner accepts, named in the Kaggle layout."""
    rgb = blocks(20, 30)
    train = root / "train"
    save(train / "cat.0.jpg", rgb, "BMP")  # a BMP named .jpg
    Image.fromarray(rgb).convert("CMYK").save(train / "cat.1.jpg", "JPEG")
    save(train / "cat.2.png", np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]))  # RGBA
    Image.fromarray(rgb).convert("P").save(train / "cat.3.png")  # palette
    Image.fromarray((np.arange(600).reshape(20, 30) * 100).astype(np.uint16)).save(train / "cat.4.png")  # 16 bit
    Image.fromarray(rgb[..., 0]).save(train / "dog.0.jpg")  # grayscale
    frames = [Image.fromarray(rgb).convert("P"), Image.fromarray(255 - rgb).convert("P")]
    frames[0].save(train / "dog.1.gif", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(rgb).save(train / "dog.2.jpg", exif=exif)
    Image.fromarray(rgb).convert("LA").save(train / "dog.3.png")
    save(train / "dog.4.jpeg", rgb, "JPEG")


def test_every_accepted_file_goes_through_the_pipeline(tmp_path):
    _odd_but_valid_images(tmp_path)
    result = scan(tmp_path)
    assert not result.rejected and len(result.accepted) == 10
    manifest, _ = ensure_manifest(tmp_path, scan_result=result)
    seen = 0
    for split in ("train", "val", "test"):
        if not manifest.split_rows(split):
            continue
        options = DatasetOptions(repeat=False, augment=split == "train")
        for images, labels in make_dataset(manifest, split, 24, 4, options):
            assert images.shape[1:] == (24, 24, 3) and np.isfinite(images.numpy()).all()
            seen += len(labels)
    assert seen == len(result.accepted)
    # the training stream as the loop reads it (warp deferred to the train step), Pillow files included
    deferred = DatasetOptions(repeat=False, defer_warp=True)
    for (images, transforms), labels in make_dataset(manifest, "train", 24, 4, deferred):
        assert images.dtype == tf.uint8 and images.shape[1:] == (24, 24, 3) and transforms.shape == (len(labels), 8)
        assert np.isfinite(warp(tf.cast(images, tf.float32), transforms).numpy()).all()


@pytest.fixture()
def photo_manifest(tmp_path) -> Manifest:
    """12 textured JPEGs of assorted sizes (the in-graph route), 4 per split."""
    rows = []
    for i in range(12):
        label = ("cat", "dog")[i % 2]
        rel = f"train/{label}.{i}.jpg"
        save(tmp_path / rel, photo(30 + 3 * i, 44 - 2 * i, i), "JPEG", quality=85)
        rows.append(ManifestRow(rel, label, ("train", "val", "test")[i // 4]))
    return Manifest(rows=rows, seed=0, classes=("cat", "dog"), layout="kaggle", path=tmp_path / "manifest.csv")


def _epoch(manifest, epoch, steps=3, batch=2, **options):
    """The batches of one epoch of a seeded training stream."""
    opts = DatasetOptions(seed=4, start_batch=epoch * steps, **options)
    return list(make_dataset(manifest, "train", 16, batch, opts).take(steps).as_numpy_iterator())


def test_an_epoch_is_a_pure_function_of_seed_and_epoch(photo_manifest):
    first = _epoch(photo_manifest, 2)
    rebuilt = (_epoch(photo_manifest, 2), _epoch(photo_manifest, 2, threads=1), _epoch(photo_manifest, 2, threads=2))
    for again in rebuilt:
        for (xa, ya), (xb, yb) in zip(first, again, strict=True):
            np.testing.assert_array_equal(xa, xb)  # rebuilt, and at any parallelism: bit for bit
            np.testing.assert_array_equal(ya, yb)
    other = _epoch(photo_manifest, 3)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True))
    reseeded = list(make_dataset(photo_manifest, "train", 16, 2, DatasetOptions(seed=5, start_batch=6)).take(3))
    assert not all(np.array_equal(a[0], b[0].numpy()) for a, b in zip(first, reseeded, strict=True))


def test_each_training_image_is_the_loaders_pixels_warped_with_its_stream_seed(photo_manifest, tmp_path):
    """Decode in graph, then the study's warp seeded by (seed, position): nothing else changes the pixels."""
    steps, batch = 2, 3
    ds = make_dataset(photo_manifest, "train", 16, batch, DatasetOptions(seed=7, start_batch=steps))
    plain = make_dataset(photo_manifest, "train", 16, batch, DatasetOptions(seed=7, start_batch=steps, augment=False))
    position = steps * batch
    for (images, _), (unwarped, _) in zip(ds.take(steps), plain.take(steps), strict=True):
        for image, source in zip(images.numpy(), unwarped.numpy(), strict=True):
            matches = [np.array_equal(source, load_image(tmp_path / r.path, size=16).astype(np.float32))
                       for r in photo_manifest.split_rows("train")]
            assert sum(matches) == 1  # the in-graph decode is exactly one file's loader pixels
            seed = tf.constant([7, position], tf.int64)
            np.testing.assert_array_equal(image, augment_image(tf.constant(source), seed).numpy())
            position += 1


def test_a_deferred_warp_gives_the_same_batches_at_any_parallelism(photo_manifest):
    """defer_warp streams unwarped uint8 images and transforms; warping the batch gives the old stream."""
    warped = _epoch(photo_manifest, 2, batch=3)
    for threads in (1, 2):
        deferred = _epoch(photo_manifest, 2, batch=3, threads=threads, defer_warp=True)
        plain = _epoch(photo_manifest, 2, batch=3, threads=threads, augment=False)
        for ((images, transforms), labels), (expected, expected_labels), (unwarped, _) in zip(
            deferred, warped, plain, strict=True
        ):
            assert images.dtype == np.uint8 and transforms.shape == (3, 8) and transforms.dtype == np.float32
            np.testing.assert_array_equal(images.astype(np.float32), unwarped)  # not warped yet
            np.testing.assert_array_equal(warp(tf.cast(images, tf.float32), transforms).numpy(), expected)
            np.testing.assert_array_equal(labels, expected_labels)


def test_a_deferred_warp_is_ignored_without_augmentation(photo_manifest):
    images, labels = next(iter(make_dataset(photo_manifest, "val", 16, 2, DatasetOptions(defer_warp=True))))
    assert images.dtype == tf.float32 and images.shape == (2, 16, 16, 3) and labels.shape == (2,)
