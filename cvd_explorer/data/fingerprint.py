"""Per-image fingerprints for finding duplicates, computed from pixels already decoded.

The scan decodes every image once; :func:`fingerprint` turns that decoded array into

* ``thumb_key``: a digest of the size and the thumbnail below: images with the same decoded
  pixels share it, whatever the file's encoding or name (those that share it are then compared
  on :func:`pixel_digest`, a digest of every decoded byte, to call them ``exact``);
* ``thumb``: the image's green channel at 32x32 (Lanczos, after Pillow's fast integer box
  reduction),
  used to confirm a near duplicate (see :mod:`cvd_explorer.data.duplicates`);
* ``phash``: the 64-bit perceptual hash of that thumbnail (``imagehash.phash``: DCT of the 32x32
  grey image, the 8x8 lowest frequencies against their median), which survives re-encoding and
  resizing and serves to find candidate pairs quickly.

Only numpy, Pillow and imagehash are used here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import imagehash
import numpy as np
from numpy.typing import NDArray
from PIL import Image

THUMB_SIDE = 32
"""Side of the grey thumbnail near duplicates are confirmed on."""
PHASH_BITS = 64
"""Bits of the perceptual hash (``imagehash.phash`` with ``hash_size=8``)."""
_REDUCING_GAP = 2.0  # Pillow box-reduces by an integer factor to >= 64 px first, then Lanczos: 4x faster


@dataclass(frozen=True)
class Fingerprint:
    """What the duplicate search needs to know of one image.

    Attributes:
        thumb_key: 24 hex characters: digest of the image's size and thumbnail (see :func:`thumb_key`).
        phash: 64-bit perceptual hash, as an int.
        thumb: ``(32, 32)`` uint8 grey thumbnail.
    """

    thumb_key: str
    phash: int
    thumb: NDArray[np.uint8]


def thumb_key(rgb: Image.Image, thumb: NDArray[np.uint8]) -> str:
    """24 hex characters: BLAKE2b digest of the image's mode, size and 32x32 thumbnail.

    Images with the same pixels always share it; images that share it are only *candidates*
    for ``exact`` and are compared with :func:`pixel_digest` (computing that full digest for
    every image would cost a third of a decode; the candidates are few).
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(repr((rgb.mode, rgb.size)).encode())
    digest.update(thumb.tobytes())
    return digest.hexdigest()


def pixel_digest(rgb: Image.Image) -> str:
    """32 hex characters: BLAKE2b digest of the decoded pixels (every byte) and the size."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((rgb.mode, rgb.size)).encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def thumbnail(rgb: Image.Image) -> NDArray[np.uint8]:
    """The ``(32, 32)`` uint8 grey thumbnail of an RGB image: its green channel, box-reduced, then Lanczos.

    The green channel carries most of the luminance (0.59 of ITU-R 601 luma) and costs a third
    of a full grey conversion; a thumbnail only has to tell copies from other pictures.
    """
    grey = rgb.getchannel("G")
    small = grey.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    pixels: NDArray[np.uint8] = np.asarray(small, dtype=np.uint8).copy()
    return pixels


def phash_of_thumb(thumb: NDArray[np.uint8]) -> int:
    """``imagehash.phash`` of a 32x32 grey thumbnail, as a 64-bit int."""
    bits = imagehash.phash(Image.fromarray(thumb, "L")).hash.ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def fingerprint(image: Image.Image | NDArray[np.uint8]) -> Fingerprint:
    """Fingerprint of a decoded image.

    Args:
        image: An ``"RGB"`` Pillow image (:func:`cvd_explorer.data.loader.decode_image`) or its
            ``(H, W, 3)`` uint8 array (:func:`cvd_explorer.data.loader.load_image`); both give
            the same fingerprint.

    Returns:
        The :class:`Fingerprint`.
    """
    rgb = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image), "RGB")
    thumb = thumbnail(rgb)
    return Fingerprint(thumb_key(rgb, thumb), phash_of_thumb(thumb), thumb)
