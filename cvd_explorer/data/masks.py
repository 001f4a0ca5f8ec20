"""Object masks shipped with a data set: the Oxford-IIIT Pet trimaps.

The Oxford-IIIT Pet data set has, for every ``images/<stem>.jpg``, a trimap
``annotations/trimaps/<stem>.png``: a one-channel PNG the size of the image whose pixels are
1 (pet), 2 (background) or 3 (border, the uncertain rim around the pet). As an object mask the
pet is 1 or 3. :func:`oxford_trimap_mask` reads one trimap, :func:`oxford_mask` finds and reads
the trimap of an image of a data folder with that layout (see
:mod:`cvd_explorer.data.layout`), optionally resized to the model's input size.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.typing import NDArray

from cvd_explorer.errors import DataError

TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER = 1, 2, 3
"""Pixel values of an Oxford-IIIT Pet trimap."""
TRIMAP_DIR = ("annotations", "trimaps")
"""Where the trimaps sit, relative to the folder holding ``images/``."""


def oxford_trimap_mask(path: str | os.PathLike[str]) -> NDArray[np.bool_]:
    """The pet mask of one Oxford-IIIT Pet trimap: bool ``(H, W)``, True where the pixel is 1 or 3.

    Raises:
        DataError: the file is missing, not an image, or holds values other than 1, 2, 3.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            values = np.asarray(im.convert("L") if im.mode not in ("L", "P") else im)
    except FileNotFoundError:
        raise DataError(f"{path}: no such trimap") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the trimap ({exc})") from None
    if values.ndim != 2:
        raise DataError(f"{path}: a trimap has one channel, this one has shape {values.shape}")
    found = set(np.unique(values).tolist())
    if not found <= {TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER}:
        raise DataError(
            f"{path}: not an Oxford-IIIT Pet trimap (values {sorted(found)[:8]}; expected 1 pet, 2 background, "
            "3 border)"
        )
    return np.asarray((values == TRIMAP_PET) | (values == TRIMAP_BORDER))


def oxford_trimap_path(root: str | os.PathLike[str], image: str | os.PathLike[str]) -> Path:
    """Where the trimap of ``image`` lives: ``<images/..>/annotations/trimaps/<stem>.png``.

    Args:
        root: The data folder (Oxford-IIIT Pet layout: ``images/`` and ``annotations/``, possibly
            inside one wrapper folder).
        image: The image's path, relative to ``root`` (as in a manifest, posix) or absolute.
    """
    path = Path(image) if Path(image).is_absolute() else Path(root) / PurePosixPath(Path(image).as_posix())
    return path.parent.parent.joinpath(*TRIMAP_DIR, path.stem + ".png")


def oxford_mask(
    root: str | os.PathLike[str], image: str | os.PathLike[str], size: int | None = None
) -> NDArray[np.bool_] | None:
    """The pet mask of an image of an Oxford-IIIT Pet data folder, or None when it has no trimap.

    Args:
        root: The data folder.
        image: The image's path relative to ``root`` (posix, as in the manifest) or absolute.
        size: Resize the mask (nearest neighbour) to ``(size, size)``, the model's input; None
            keeps the image's size.

    Returns:
        bool ``(H, W)`` (or ``(size, size)``), True on the pet (trimap 1 or 3).

    Raises:
        DataError: the trimap exists but is not a readable trimap.
    """
    from PIL import Image

    path = oxford_trimap_path(root, image)
    if not path.is_file():
        return None
    mask = oxford_trimap_mask(path)
    if size is None:
        return mask
    resized = Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.Resampling.NEAREST)
    return np.asarray(resized) > 127
