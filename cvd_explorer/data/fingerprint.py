"""Per-image fingerprints for finding duplicates, computed from pixels already decoded.

The scan decodes every image once (a JPEG at a fraction of its size, see
:func:`cvd_explorer.data.loader.decode_reduced`); :func:`fingerprint` turns that decoded image into

* ``thumb_key``: a digest of the full size and the thumbnail below: images with the same decoded
  pixels and the same decode share it (those that share it are then compared on
  :func:`pixel_digest`, a digest of every decoded byte, to call them ``exact``; the scan also
  compares same-size near copies that way, since a JPEG reduced while decoding and a PNG of the
  same pixels have thumbnails a grey level or two apart);
* ``thumb``: the image's green channel at 32x32 (Lanczos, after Pillow's fast integer box
  reduction, or after the JPEG decoder's own reduction), used to confirm a near duplicate (see
  :mod:`cvd_explorer.data.duplicates`);
* ``phash``: the 64-bit perceptual hash of that thumbnail (as ``imagehash.phash``: DCT of the 32x32
  grey image, the 8x8 lowest frequencies against their median, here as two small matrix
  products), which survives re-encoding and resizing and serves to find candidate pairs quickly.

Only numpy and Pillow are used here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

THUMB_SIDE = 32
"""Side of the grey thumbnail near duplicates are confirmed on."""
PHASH_BITS = 64
"""Bits of the perceptual hash (``imagehash.phash`` with ``hash_size=8``)."""
REDUCED_SIDE = 32
"""Smallest side a reduced JPEG decode keeps: the thumbnail's (a 256 px or larger JPEG is decoded at 1/8,
each pixel the mean of an 8x8 block, then Lanczos-resampled to 32x32 like the box reduction below)."""
_REDUCING_GAP = 2.0  # Pillow box-reduces by an integer factor to >= 64 px first, then Lanczos: 4x faster
_HASH_SIDE = 8
# Rows 0..7 of the unnormalised DCT-II matrix (scipy.fftpack.dct's type 2): 2 cos(pi k (2n + 1) / 2N).
_DCT_LOW = 2.0 * np.cos(
    np.pi * np.arange(_HASH_SIDE)[:, None] * (2 * np.arange(THUMB_SIDE)[None, :] + 1) / (2 * THUMB_SIDE)
)


@dataclass(frozen=True)
class Fingerprint:
    """What the duplicate search needs to know of one image.

    Attributes:
        thumb_key: 24 hex characters: digest of the image's size and thumbnail (see :func:`thumb_key`).
        phash: 64-bit perceptual hash, as an int.
        thumb: ``(32, 32)`` uint8 grey thumbnail.
        size: ``(width, height)`` of the full image.
    """

    thumb_key: str
    phash: int
    thumb: NDArray[np.uint8]
    size: tuple[int, int]


def thumb_key(size: tuple[int, int], thumb: NDArray[np.uint8]) -> str:
    """24 hex characters: BLAKE2b digest of ``("RGB", size)`` and the 32x32 thumbnail.

    Images with the same pixels (decoded the same way) always share it; images that share it
    are only *candidates* for ``exact`` and are compared with :func:`pixel_digest` (computing that
    full digest for every image would cost a third of a decode; the candidates are few).
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(repr(("RGB", size)).encode())
    digest.update(thumb.tobytes())
    return digest.hexdigest()


def pixel_digest(rgb: Image.Image) -> str:
    """32 hex characters: BLAKE2b digest of the decoded pixels (every byte) and the size."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((rgb.mode, rgb.size)).encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def thumbnail(rgb: Image.Image, box: tuple[float, float, float, float] | None = None) -> NDArray[np.uint8]:
    """The ``(32, 32)`` uint8 grey thumbnail of an RGB image: its green channel, box-reduced, then Lanczos.

    The green channel carries most of the luminance (0.59 of ITU-R 601 luma) and costs a third
    of a full grey conversion; a thumbnail only has to tell copies from other pictures.

    Args:
        rgb: The decoded image, full or reduced.
        box: The region of ``rgb`` to shrink (a reduced JPEG's partial last row and column
            lie outside it); None for all of it.
    """
    grey = rgb.getchannel("G")
    small = grey.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, box=box, reducing_gap=_REDUCING_GAP)
    pixels: NDArray[np.uint8] = np.asarray(small, dtype=np.uint8).copy()
    return pixels


def phash_of_thumb(thumb: NDArray[np.uint8]) -> int:
    """64-bit perceptual hash of a ``(32, 32)`` uint8 thumbnail, as an int (the bits of ``imagehash.phash``).

    The 8x8 lowest frequencies of the thumbnail's DCT-II (``scipy.fftpack.dct`` along both axes)
    as ``D @ thumb @ D.T`` with ``D`` its first 8 rows; bit set where a coefficient exceeds their
    median, row-major, first bit highest. Coefficients are rounded to 1e-6 so that values equal
    in exact arithmetic (flat or symmetric thumbnails) compare equal.
    """
    low = (_DCT_LOW @ thumb.astype(np.float64) @ _DCT_LOW.T).ravel().round(6)
    ordered = np.sort(low)
    half = low.size // 2
    median = (ordered[half - 1] + ordered[half]) / 2  # what np.median computes, without its overhead
    return int.from_bytes(np.packbits(low > median).tobytes(), "big")


def fingerprint(
    image: Image.Image | NDArray[np.uint8],
    size: tuple[int, int] | None = None,
    box: tuple[float, float, float, float] | None = None,
) -> Fingerprint:
    """Fingerprint of a decoded image.

    Args:
        image: An ``"RGB"`` Pillow image (:func:`cvd_explorer.data.loader.decode_image`, or the
            ``image`` of :func:`~cvd_explorer.data.loader.decode_reduced`) or an ``(H, W, 3)``
            uint8 array (:func:`cvd_explorer.data.loader.load_image`); image and array give the
            same fingerprint.
        size: ``(width, height)`` of the full image when ``image`` is reduced.
        box: The region of a reduced ``image`` that maps to the full image.

    Returns:
        The :class:`Fingerprint`.
    """
    rgb = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image), "RGB")
    full = size or rgb.size
    thumb = thumbnail(rgb, box)
    return Fingerprint(thumb_key(full, thumb), phash_of_thumb(thumb), thumb, full)
