"""The one image loader used everywhere (scan, training pipeline, Explorer, CLI).

Decisions:

* Accepted formats, decided by content never by extension: JPEG (incl. camera MPO files, which
  are JPEGs with extra frames), PNG, BMP, GIF. WebP, TIFF, HEIC, ... are reported as
  ``"unsupported"``: the reference data holds JPEGs (plus one BMP), and rejecting the rest keeps
  the accepted set within what every decoder in the toolkit handles. Convert such files first.
* Transparency (RGBA, LA, palette or grey/RGB with a tRNS colour) is composited on white, so
  hidden colour values under transparent pixels never leak into the model input.
* 16-bit grey (PIL modes ``I;16*`` and ``I``) is scaled ``round(v / 257)``: 65535 -> 255,
  32896 -> 128 (no clipping at 255).
* Resizing squashes to the target size (aspect ratio not kept) with PIL NEAREST, the default of
  Keras 2 ``flow_from_directory``/``load_img(interpolation="nearest")``.
* ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never touched, so truncated data raises ``"corrupt"``.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import BinaryIO, NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from cvd_explorer.errors import DataError

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest ``width * height`` accepted; larger images are refused before any pixel is decoded."""

ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "GIF")
"""PIL format names :func:`load_image` accepts."""

REASONS = {
    "empty": "the file has zero bytes",
    "corrupt": "an image format we know, but the data is truncated or broken",
    "not-image": "not an image at all (text, random bytes, ...)",
    "unsupported": "an image in a format we do not accept (only JPEG, PNG, BMP, GIF)",
    "too-large": "more pixels than the limit (a possible decompression bomb)",
    "unreadable": "the file cannot be read (permissions, missing, I/O error)",
}
"""Reason codes of :class:`ImageLoadError` and what each means."""

_OPEN_FORMATS = ["JPEG", "PNG", "BMP", "GIF"]  # the JPEG opener also yields MPO
_ACCEPTED_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_UNSUPPORTED_MAGIC = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\xff\x0a", "JPEG XL"),
    (b"qoif", "QOI"),
)
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF", b"msf1": "HEIF"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


class ImageLoadError(DataError):
    """An image file cannot be used.

    Attributes:
        path: The file, as given.
        reason: One of the codes in :data:`REASONS`.
        message: What is wrong, without the path.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason code {reason!r}")
        self.path = str(path)
        self.reason = reason
        self.message = message
        super().__init__(f"{self.path}: {reason}: {message}")

    def __reduce__(self) -> tuple[type[ImageLoadError], tuple[str, str, str]]:  # picklable across processes
        return (type(self), (self.path, self.reason, self.message))


def _sniff(head: bytes) -> tuple[str | None, str | None]:
    """(accepted format, unsupported format) recognised from the first bytes."""
    for magic, name in _ACCEPTED_MAGIC:
        if head.startswith(magic):
            return name, None
    for magic, name in _UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            return None, name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return None, "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return None, _HEIF_BRANDS[head[8:12]]
    return None, None


def _open_file(path: str | os.PathLike[str]) -> BinaryIO:
    """The file opened for binary reading; a missing or unreadable file is ``unreadable``."""
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "unreadable", "the file does not exist") from exc
    except OSError as exc:
        raise ImageLoadError(path, "unreadable", f"cannot open the file: {exc.strerror or exc}") from exc


def _open(fh: BinaryIO, path: str | os.PathLike[str], max_pixels: int) -> Image.Image:
    """Open lazily (header only), refusing unsupported formats and too many pixels."""
    try:
        size = os.fstat(fh.fileno()).st_size
    except (OSError, io.UnsupportedOperation):
        size = None
    if size == 0:
        raise ImageLoadError(path, "empty", "the file is empty (0 bytes)")
    try:
        head = fh.read(32)
    except OSError as exc:
        raise ImageLoadError(path, "unreadable", f"cannot read the file: {exc}") from exc
    if not head:
        raise ImageLoadError(path, "empty", "the file is empty (0 bytes)")
    known, unsupported = _sniff(head)
    if unsupported:
        raise ImageLoadError(
            path, "unsupported", f"{unsupported} image; only JPEG, PNG, BMP and GIF are accepted"
        )
    fh.seek(0)
    try:
        im = Image.open(fh, formats=_OPEN_FORMATS)
    except Image.DecompressionBombError as exc:  # PIL's own, larger limit fired first
        limit = (Image.MAX_IMAGE_PIXELS or 0) * 2
        raise ImageLoadError(
            path, "too-large", f"over {limit:,} pixels, far beyond the limit of {max_pixels:,} ({exc})"
        ) from exc
    except Exception as exc:  # PIL raises many types on garbage headers
        if known:
            raise ImageLoadError(path, "corrupt", f"broken {known} header ({exc})") from exc
        raise ImageLoadError(path, "not-image", "not a JPEG, PNG, BMP or GIF image") from exc
    if im.format not in ACCEPTED_FORMATS:  # pragma: no cover - formats= already restricts
        raise ImageLoadError(path, "unsupported", f"{im.format} image")
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageLoadError(path, "corrupt", f"header claims {width}x{height} pixels")
    if width * height > max_pixels:
        raise ImageLoadError(
            path,
            "too-large",
            f"{width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,}",
        )
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to an RGB image (16-bit scaled, transparency composited on white)."""
    if im.mode in _SIXTEEN_BIT_MODES:
        values = np.clip(np.asarray(im).astype(np.float64), 0, 65535)
        grey = np.floor(values / 257.0 + 0.5).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode == "F":
        grey = np.clip(np.asarray(im), 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    has_alpha = im.mode in _ALPHA_MODES or "transparency" in im.info
    if not has_alpha:
        return im if im.mode == "RGB" else im.convert("RGB")
    rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return Image.fromarray(out.astype(np.uint8), "RGB")


def _target_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) from an int or a pair; ValueError on nonsense."""
    if isinstance(size, (int, np.integer)):
        height = width = int(size)
    else:
        height, width = (int(v) for v in size)
    if height <= 0 or width <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    return height, width


class Reduced(NamedTuple):
    """A decoded image, possibly at a fraction of its size (see :func:`decode_reduced`).

    Attributes:
        image: The ``"RGB"`` image as decoded, EXIF orientation applied.
        size: ``(width, height)`` of the full decode (what :func:`decode_image` returns).
        box: ``(left, upper, right, lower)`` region of ``image`` that the full image maps to
            (JPEG scaling rounds the size up, so the last row and column may be partial).
        scale: 1 for a full decode, else 2, 4 or 8 (JPEG DCT scaling).
    """

    image: Image.Image
    size: tuple[int, int]
    box: tuple[float, float, float, float]
    scale: int


def _draft(im: Image.Image, min_side: int) -> tuple[float, float, float, float] | None:
    """Ask a JPEG to decode at 1/2, 1/4 or 1/8 of its size, keeping >= ``min_side`` px a side.

    Only plain JPEGs stored upright: EXIF orientation would move the partial row and column.
    Returns the box of the reduced image that maps to the full image, or None (full decode).
    """
    if im.format != "JPEG" or min(im.size) // min_side < 2:
        return None
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:
        return None
    if orientation != 1:
        return None
    drafted = im.draft(None, (min_side, min_side))
    return None if drafted is None else drafted[1]


def _decode(path: str | os.PathLike[str], max_pixels: int, min_side: int | None) -> Reduced:
    """Decode fully (``min_side`` None) or, for a JPEG, at the coarsest scale keeping ``min_side``."""
    fh = _open_file(path)
    with fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bomb warnings are checked by hand; EXIF noise is harmless
        im = _open(fh, path, max_pixels)
        full = im.size
        box = _draft(im, min_side) if min_side else None
        try:
            im.load()
        except Image.DecompressionBombError as exc:
            raise ImageLoadError(path, "too-large", str(exc)) from exc
        except MemoryError as exc:
            raise ImageLoadError(path, "too-large", "not enough memory to decode it") from exc
        except Exception as exc:  # decoder errors: OSError, SyntaxError, ValueError, EOFError, ...
            detail = str(exc) or type(exc).__name__
            raise ImageLoadError(path, "corrupt", f"cannot decode {im.format} data ({detail})") from exc
        with contextlib.suppress(Exception):  # unreadable EXIF: keep the pixels as stored
            ImageOps.exif_transpose(im, in_place=True)  # in place: no copy of an upright image
        try:
            rgb = _to_rgb(im)
        except Exception as exc:
            raise ImageLoadError(path, "corrupt", f"cannot convert mode {im.mode} to RGB ({exc})") from exc
    if box is None:
        return Reduced(rgb, rgb.size, (0.0, 0.0, float(rgb.width), float(rgb.height)), 1)
    return Reduced(rgb, full, box, round(full[0] / box[2]))


def decode_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode an image file fully into an RGB Pillow image (what :func:`load_image` converts).

    Args:
        path: Image file; the format is read from its content, not its name.
        max_pixels: Largest ``width * height`` accepted, checked on the header before decoding.

    Returns:
        A loaded ``"RGB"`` image, EXIF orientation applied, GIF first frame.

    Raises:
        ImageLoadError: With ``reason`` in :data:`REASONS`.
    """
    return _decode(path, max_pixels, None).image


def decode_reduced(path: str | os.PathLike[str], min_side: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Reduced:
    """Decode an image file, a JPEG at 1/2, 1/4 or 1/8 scale when it keeps ``min_side`` px a side.

    JPEG DCT scaling still reads and entropy-decodes every coefficient of the file (a truncated
    or broken stream fails exactly as in a full decode), but runs the inverse DCT, upsampling and
    colour conversion on a fraction of the pixels. Other formats, JPEGs with an EXIF rotation and
    small JPEGs are decoded fully, as by :func:`decode_image`.

    Args:
        path: Image file.
        min_side: Smallest side in pixels the reduced image must keep.
        max_pixels: As in :func:`decode_image`.

    Returns:
        The :class:`Reduced` image, its full size and the box mapping it to the full image.

    Raises:
        ImageLoadError: With ``reason`` in :data:`REASONS`, whenever :func:`decode_image` would.
    """
    return _decode(path, max_pixels, min_side)


def load_image(
    path: str | os.PathLike[str],
    size: int | tuple[int, int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> NDArray[np.uint8]:
    """Decode an image file fully into RGB pixels.

    Args:
        path: Image file; the format is read from its content, not its name.
        size: ``None`` keeps the decoded size; an int ``n`` or ``(height, width)`` squashes the
            image to that size (aspect ratio not kept, NEAREST like Keras 2).
        max_pixels: Largest ``width * height`` accepted, checked on the header before decoding.

    Returns:
        ``uint8`` array of shape ``(H, W, 3)``, RGB, EXIF orientation applied, GIF first frame.

    Raises:
        ImageLoadError: With ``reason`` in :data:`REASONS`.
    """
    target = _target_size(size) if size is not None else None
    rgb = decode_image(path, max_pixels)
    if target is not None and (rgb.height, rgb.width) != target:
        rgb = rgb.resize((target[1], target[0]), Image.Resampling.NEAREST)
    pixels: NDArray[np.uint8] = np.asarray(rgb, dtype=np.uint8).copy()
    return pixels


def read_image_size(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Image size from the header only, as :func:`load_image` would return it.

    Returns:
        ``(height, width)``, swapped when the EXIF orientation rotates by 90 degrees.

    Raises:
        ImageLoadError: When the header is unusable (pixel data is not checked).
    """
    fh = _open_file(path)
    with fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = _open(fh, path, max_pixels)
        width, height = im.size
        try:
            orientation = im.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return height, width
