"""Finishing maps in numpy: bilinear resizing and per-map [0, 1] scaling, into new writable arrays.

The engine's traced step returns raw maps at each layer's resolution; resizing them to the input
size here (OpenCV, straight into the output array) instead of inside the graph avoids a second
copy of the largest arrays the engine returns, and keeps them writable (``np.asarray`` of a
tensor is read-only).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def resize_maps(maps: Any, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of every map, half-pixel centres (as ``keras.ops.image.resize`` without antialias).

    Args:
        maps: ``(N, h, w)`` array or tensor.
        hw: output ``(H, W)``.

    Returns:
        A new float32 ``(N, H, W)`` array (a copy even when the size already matches).
    """
    arr: np.ndarray = np.asarray(maps, dtype=np.float32)
    if arr.shape[1:] == tuple(hw):
        return np.array(arr, dtype=np.float32)
    out = np.empty((len(arr), *hw), np.float32)
    for src, dst in zip(arr, out, strict=True):
        cv2.resize(np.ascontiguousarray(src), (hw[1], hw[0]), dst=dst, interpolation=cv2.INTER_LINEAR)
    return out


def normalize_maps_in_place(maps: np.ndarray) -> np.ndarray:
    """ReLU, then scale each map of a writable float32 ``(N, h, w)`` array to [0, 1] by its maximum.

    An all-zero or all-negative map becomes all zeros; the peak of any other map is exactly 1.
    Returns ``maps``.
    """
    peak = maps.max(axis=(1, 2), keepdims=True) if maps.size else np.zeros((len(maps), 1, 1), np.float32)
    np.divide(maps, np.where(peak > 0, peak, np.inf), out=maps)  # x / inf = 0 where no value is positive
    np.maximum(maps, 0, out=maps)
    return maps


def normalize_maps(maps: Any) -> np.ndarray:
    """ReLU, then scale each map to [0, 1] by its maximum; an all-zero map stays all zeros.

    Args:
        maps: ``(N, h, w)`` array or tensor (left untouched).

    Returns:
        A new float32 ``(N, h, w)`` array.
    """
    return normalize_maps_in_place(np.array(maps, dtype=np.float32))


def finish_maps(maps: Any, hw: tuple[int, int] | None, normalize: bool) -> np.ndarray:
    """Raw maps ``(N, h, w)`` -> a new float32 array ``(N, *hw)`` (``hw=None``: native size), normalised if asked."""
    out = resize_maps(maps, hw) if hw is not None else np.array(maps, dtype=np.float32)
    return normalize_maps_in_place(out) if normalize else out
