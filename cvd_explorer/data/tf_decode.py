"""In-graph decoding for the files TensorFlow decodes exactly like the loader.

:func:`cvd_explorer.data.loader.load_image` is the reference. For most files TensorFlow's own
decoders give the same pixels without the GIL, and the squash to the target size is an exact
gather. A cheap header check decides once per file which path it takes:

* ``JPEG``: a plain JPEG (not MPO) of PIL mode RGB or L, no EXIF rotation (orientation 1 or
  none), decoded by ``tf.io.decode_jpeg(dct_method="INTEGER_ACCURATE")``: libjpeg-turbo's
  ISLOW IDCT and fancy upsampling, the settings Pillow uses (TensorFlow's default IFAST differs
  by up to 8 levels).
* ``PNG``: 8-bit grey or RGB, no transparency chunk, no EXIF, decoded by ``tf.io.decode_png``.
* ``PILLOW``: everything else (BMP, GIF, palette, 16-bit or low-bit PNG, transparency, CMYK
  JPEG, EXIF-rotated JPEG, MPO, too many pixels, unreadable headers), through the loader in
  a ``tf.numpy_function`` as before; the loader also raises its clear errors for bad files.

Resize: Pillow's NEAREST squash reads, for output column ``x``, input column ``xintab[x]``, the
same for rows, so the loader's resize is a gather with index tables. The tables are taken from
Pillow itself (a resize of an image whose pixel values are their column index), one per
distinct input width and height, so they match Pillow exactly. tests/unit/test_tf_decode.py
checks the pixels against the loader: equal on every generated JPEG and PNG.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from numpy.typing import NDArray
from PIL import Image

from cvd_explorer.data.loader import DEFAULT_MAX_PIXELS, load_image

PILLOW, JPEG, PNG = 0, 1, 2
"""Decode routes: the loader in Python, ``tf.io.decode_jpeg``, ``tf.io.decode_png``."""
ROUTE_NAMES = ("pillow", "jpeg", "png")

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_GREY, _PNG_RGB = 0, 2  # IHDR colour types TensorFlow decodes like Pillow at 8 bits
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class DecodePlan:
    """Per file: route and stored size (what the header says, before any EXIF rotation).

    Attributes:
        paths: the files, as given.
        routes: int32 (N,), one of :data:`PILLOW`, :data:`JPEG`, :data:`PNG`.
        heights, widths: int32 (N,), the pixel size of files routed to TensorFlow (0 otherwise).
    """

    paths: tuple[str, ...]
    routes: NDArray[np.int32]
    heights: NDArray[np.int32]
    widths: NDArray[np.int32]

    def counts(self) -> dict[str, int]:
        """Files per route name."""
        return {name: int((self.routes == k).sum()) for k, name in enumerate(ROUTE_NAMES)}


def file_route(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int, int]:
    """``(route, height, width)`` of one file from its header (height and width 0 for Pillow).

    Reads the header only (a PNG is read whole to look for an ``eXIf`` chunk behind the pixel
    data). A file that cannot be opened goes to Pillow, whose loader names the problem.
    """
    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head = fh.read(32)
            fh.seek(0)
            if head.startswith(_JPEG_MAGIC):
                route, size = JPEG, _jpeg_size(fh)
            elif head.startswith(_PNG_MAGIC):
                route, size = PNG, _png_size(fh, head)
            else:
                return PILLOW, 0, 0
    except Exception:  # unreadable or broken header: the loader reports it
        return PILLOW, 0, 0
    if size is None or size[0] * size[1] > max_pixels or min(size) <= 0:
        return PILLOW, 0, 0
    return route, size[0], size[1]


def _jpeg_size(fh: Any) -> tuple[int, int] | None:
    im = Image.open(fh, formats=["JPEG"])
    if im.format != "JPEG" or im.mode not in ("RGB", "L"):  # MPO, CMYK, ...
        return None
    if im.getexif().get(_ORIENTATION, 1) in range(2, 9):  # the loader would rotate or mirror it
        return None
    return im.height, im.width


def _png_size(fh: Any, head: bytes) -> tuple[int, int] | None:
    bit_depth, colour_type = head[24], head[25]
    if bit_depth != 8 or colour_type not in (_PNG_GREY, _PNG_RGB):
        return None
    im = Image.open(fh, formats=["PNG"])
    if im.mode not in ("RGB", "L") or "transparency" in im.info:
        return None
    fh.seek(0)
    if b"eXIf" in fh.read():  # EXIF may sit behind the pixel data; a false match only costs speed
        return None
    return im.height, im.width


def plan_decoding(paths: Sequence[str], max_pixels: int = DEFAULT_MAX_PIXELS, workers: int = 4) -> DecodePlan:
    """Header-check every file once (threads: the work is mostly file I/O)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(lambda p: file_route(p, max_pixels), paths, chunksize=64))
    table = np.array(found, dtype=np.int32).reshape(-1, 3)
    return DecodePlan(tuple(paths), table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())


def nearest_indices(n_in: int, n_out: int) -> NDArray[np.int32]:
    """Input index read for each of ``n_out`` outputs by Pillow's NEAREST resize of ``n_in``.

    Returns:
        int32 (n_out,), values in [0, n_in).
    """
    if n_in == n_out:  # the loader does not resize then
        return np.arange(n_in, dtype=np.int32)
    line = Image.fromarray(np.arange(n_in, dtype=np.int32)[np.newaxis, :], "I")
    read: NDArray[np.int32] = np.asarray(line.resize((n_out, 1), Image.Resampling.NEAREST), dtype=np.int32)[0].copy()
    return read


def _index_table(sizes: NDArray[np.int32], n_out: int) -> tuple[Any, Any]:
    """(table int32 (K, n_out), per-file row int32 (N,)) for the distinct sizes."""
    distinct, inverse = np.unique(sizes, return_inverse=True)
    rows = [nearest_indices(int(n), n_out) if n > 0 else np.zeros(n_out, np.int32) for n in distinct]
    return tf.constant(np.stack(rows)), tf.constant(inverse.astype(np.int32).reshape(-1))


def make_decoder(plan: DecodePlan, image_size: int) -> Callable[[Any], Any]:
    """``decode(index)``: the file's pixels squashed to ``image_size``, uint8 (S, S, 3), in graph.

    Routes absent from the plan add no op to the graph: with no file for Pillow, no Python runs.
    """
    size = image_size
    path_table = tf.constant(list(plan.paths) or [""])
    rows, row_of = _index_table(plan.heights, size)
    cols, col_of = _index_table(plan.widths, size)

    def squash(image: Any, index: Any) -> Any:
        want = tf.stack([tf.gather(tf.constant(plan.heights), index), tf.gather(tf.constant(plan.widths), index)])
        same = tf.reduce_all(tf.equal(tf.shape(image)[:2], want))
        check = tf.debugging.Assert(same, ["decoded size differs from the header:", path_table[index], want])
        with tf.control_dependencies([check]):
            image = tf.gather(image, rows[row_of[index]], axis=0)
        return tf.gather(image, cols[col_of[index]], axis=1)

    def by_jpeg(index: Any) -> Any:
        data = tf.io.read_file(path_table[index])
        return squash(tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"), index)

    def by_png(index: Any) -> Any:
        return squash(tf.io.decode_png(tf.io.read_file(path_table[index]), channels=3), index)

    def pil(path: bytes) -> NDArray[np.uint8]:
        return load_image(path.decode(), size=(size, size))

    def by_pillow(index: Any) -> Any:
        image = tf.numpy_function(pil, [path_table[index]], tf.uint8, stateful=False)
        return tf.reshape(image, (size, size, 3))

    by_route = {PILLOW: by_pillow, JPEG: by_jpeg, PNG: by_png}
    present = sorted({int(r) for r in plan.routes}) or [PILLOW]
    branches = [by_route[r] for r in present]
    branch_of = np.zeros(len(ROUTE_NAMES), np.int32)
    branch_of[present] = np.arange(len(present), dtype=np.int32)
    branch_table = tf.constant(branch_of[plan.routes] if len(plan.routes) else np.zeros(1, np.int32))

    def decode(index: Any) -> Any:
        if len(branches) == 1:
            image = branches[0](index)
        else:
            image = tf.switch_case(tf.gather(branch_table, index), [functools.partial(fn, index) for fn in branches])
        return tf.ensure_shape(image, (size, size, 3))

    return decode
