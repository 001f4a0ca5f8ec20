"""Object masks of the atlas pass (atlas/compute.load_mask, store.default_masks): the synthetic data's
masks and Oxford-IIIT Pet's trimaps (1 pet, 2 background, 3 border: the pet is 1 or 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cvd_explorer.atlas.compute import load_mask
from cvd_explorer.atlas.store import default_masks


def _png(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.astype(np.uint8)).save(path)


def test_an_oxford_trimap_is_the_pet_and_its_border(tmp_path: Path) -> None:
    trimap = np.full((8, 8), 2)
    trimap[2:6, 2:6] = 3
    trimap[3:5, 3:5] = 1
    _png(tmp_path / "pets" / "annotations" / "trimaps" / "Abyssinian_1.png", trimap)
    (tmp_path / "pets" / "images").mkdir(parents=True)
    folder = default_masks(tmp_path)
    assert folder == tmp_path / "pets" / "annotations" / "trimaps"
    mask = load_mask(folder, "pets/images/Abyssinian_1.jpg", 8)  # found by the file's stem
    assert mask is not None and mask.dtype == bool
    np.testing.assert_array_equal(mask, trimap != 2)
    assert mask.sum() == 16
    assert load_mask(folder, "pets/images/Abyssinian_2.jpg", 8) is None


def test_a_synthetic_mask_is_the_labelled_animal_only(tmp_path: Path) -> None:
    values = np.zeros((8, 8))
    values[1:3, 1:3] = 1
    values[5:7, 5:7] = 2
    _png(tmp_path / "_masks" / "train" / "cat.1.png", values)
    assert default_masks(tmp_path) == tmp_path / "_masks"
    mask = load_mask(tmp_path / "_masks", "train/cat.1.jpg", 8)
    assert mask is not None
    np.testing.assert_array_equal(mask, values == 1)
    resized = load_mask(tmp_path / "_masks", "train/cat.1.jpg", 16)
    assert resized is not None and resized.shape == (16, 16) and resized.sum() == 16


def test_other_masks_count_the_bright_pixels_and_a_folder_without_masks_has_none(tmp_path: Path) -> None:
    values = np.zeros((8, 8))
    values[:4] = 255
    _png(tmp_path / "m" / "a.png", values)
    mask = load_mask(tmp_path / "m", "a.jpg", 8)
    assert mask is not None and mask.sum() == 32 and mask[:4].all()
    assert default_masks(tmp_path / "m") is None
