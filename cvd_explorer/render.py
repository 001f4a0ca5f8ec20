"""Arrays to pictures: feature-map grids, CAM overlays, depth strips and PNG bytes.

Pure numpy + OpenCV + matplotlib *colormaps* (lookup tables, no figures), so the Explorer's
slider can compose and encode a view in a few milliseconds. Every function returns an RGB uint8
array ``(H, W, 3)``; :func:`to_png` encodes one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import cv2
import numpy as np

from cvd_explorer.explain.maps import resize_maps

_FONT = cv2.FONT_HERSHEY_SIMPLEX


@lru_cache(maxsize=16)
def colormap_lut(name: str) -> np.ndarray:
    """A matplotlib colormap as a ``(256, 3)`` uint8 RGB lookup table."""
    from matplotlib import colormaps

    try:
        cmap = colormaps[name]
    except KeyError:
        raise ValueError(f"unknown colormap {name!r}; use a matplotlib name such as 'jet' or 'viridis'") from None
    lut = np.round(cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def apply_colormap(values: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """Map values in [0, 1] ``(h, w)`` to RGB uint8 ``(h, w, 3)`` (NaN and out-of-range are clipped)."""
    v = np.nan_to_num(np.asarray(values, np.float32), nan=0.0)
    idx = np.round(np.clip(v, 0.0, 1.0) * 255.0).astype(np.uint8)
    return colormap_lut(colormap)[idx]


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) gray, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img
    return np.round(np.clip(img.astype(np.float32), 0, 255)).astype(np.uint8)


def _unit(channel: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1]; a constant (or non-finite) channel becomes zeros."""
    c = np.nan_to_num(channel.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(c.min()), float(c.max())
    return (c - lo) / (hi - lo) if hi > lo else np.zeros_like(c)


def _label(canvas: np.ndarray, text: str, org: tuple[int, int], scale: float) -> None:
    """Draw white text with a black outline (readable on any colormap), in place."""
    cv2.putText(canvas, text, org, _FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, org, _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def feature_grid(
    maps: np.ndarray,
    top_k: int = 16,
    order: str = "activation",
    weights: np.ndarray | None = None,
    colormap: str = "viridis",
    cell: int = 64,
    pad: int = 2,
) -> np.ndarray:
    """A grid of one image's feature maps, strongest channels first, each with its index.

    Args:
        maps: activations of one image ``(h, w, C)``.
        top_k: number of channels shown (at most C).
        order: ``"activation"`` (by mean activation, descending) or ``"cam-weight"`` (by
            ``weights``, descending: the channels the CAM leans on).
        weights: ``(C,)`` channel weights, required for ``order="cam-weight"`` (e.g.
            ``Explanation.channel_weights[layer][i]``).
        colormap: matplotlib colormap name.
        cell: side of each cell in pixels (nearest-neighbour upsampling keeps pixels crisp).
        pad: black gap between cells in pixels.

    Returns:
        RGB uint8 ``(rows * (cell + pad) - pad, cols * (cell + pad) - pad, 3)``; cells fill row by
        row, ``cols = ceil(sqrt(k))``. Each channel is min-max normalised on its own so dim
        channels are visible; a constant channel renders as the colormap's zero.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be one image's activations (h, w, C), got shape {maps.shape}")
    n_channels = maps.shape[-1]
    if order == "activation":
        score = maps.reshape(-1, n_channels).mean(axis=0)
    elif order == "cam-weight":
        shape = None if weights is None else np.shape(weights)
        if shape != (n_channels,):
            raise ValueError(f"order='cam-weight' needs weights of shape ({n_channels},), got {shape}")
        score = np.asarray(weights, np.float64)
    else:
        raise ValueError(f"order must be 'activation' or 'cam-weight', got {order!r}")
    k = max(1, min(int(top_k), n_channels))
    channels = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")[:k]
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    grid = np.zeros((rows * (cell + pad) - pad, cols * (cell + pad) - pad, 3), np.uint8)
    scale = max(0.3, cell / 160.0)
    for slot, ch in enumerate(channels):
        r, c = divmod(slot, cols)
        tile = cv2.resize(_unit(maps[:, :, ch]), (cell, cell), interpolation=cv2.INTER_NEAREST)
        tile = np.ascontiguousarray(apply_colormap(tile, colormap))
        _label(tile, str(int(ch)), (3, int(14 * scale / 0.4)), scale)
        y, x = r * (cell + pad), c * (cell + pad)
        grid[y : y + cell, x : x + cell] = tile
    return grid


def cam_overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
    """Blend a CAM's colormap over an image.

    Args:
        image: RGB ``(H, W, 3)`` uint8, or float 0-255.
        cam: ``(h, w)`` in [0, 1]; resized bilinearly to ``(H, W)``.
        alpha: weight of the heat map (0: the image unchanged, 1: the heat map only).
        colormap: matplotlib colormap name.

    Returns:
        RGB uint8 ``(H, W, 3)``: ``round((1 - alpha) * image + alpha * colormap(cam))``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img = _as_rgb_uint8(image)
    cam = np.asarray(cam, np.float32)
    if cam.ndim != 2:
        raise ValueError(f"cam must be one map (h, w), got shape {cam.shape}")
    if cam.shape != img.shape[:2]:
        cam = resize_maps(cam[None], img.shape[:2])[0]
    heat: np.ndarray = apply_colormap(cam, colormap)
    if alpha == 0.0:
        return np.array(img, copy=True)
    if alpha == 1.0:
        return heat
    blended: np.ndarray = cv2.addWeighted(img, 1.0 - alpha, heat, alpha, 0.0)
    return blended


def pick_evenly(names: Sequence[str], n: int) -> list[str]:
    """``n`` names evenly spaced from first to last (all of them when there are fewer)."""
    names = list(names)
    if len(names) <= n:
        return names
    idx = np.unique(np.round(np.linspace(0, len(names) - 1, max(1, n))).astype(int))
    return [names[i] for i in idx]


def depth_strip(
    image: np.ndarray,
    cams_by_layer: Mapping[str, np.ndarray],
    n: int = 8,
    cell: int = 128,
    alpha: float = 0.4,
    colormap: str = "jet",
    title_height: int = 18,
) -> np.ndarray:
    """The reference study's figure: CAM overlays from shallow to deep, side by side.

    Args:
        image: RGB ``(H, W, 3)`` uint8 or float 0-255.
        cams_by_layer: ``{layer: (h, w) map in [0, 1]}`` in depth order.
        n: number of layers shown, evenly spaced over the dict's order (first and last included).
        cell: side of each overlay in pixels.
        alpha, colormap: as in :func:`cam_overlay`.
        title_height: height of the black title band above each overlay (layer name).

    Returns:
        RGB uint8 ``(title_height + cell, m * cell, 3)``, ``m = min(n, len(cams_by_layer))``.
    """
    if not cams_by_layer:
        raise ValueError("cams_by_layer is empty")
    img = cv2.resize(_as_rgb_uint8(image), (cell, cell), interpolation=cv2.INTER_AREA)
    panels = []
    for name in pick_evenly(list(cams_by_layer), n):
        panel = np.zeros((title_height + cell, cell, 3), np.uint8)
        panel[title_height:] = cam_overlay(img, cams_by_layer[name], alpha, colormap)
        scale = 0.35
        while scale > 0.2 and cv2.getTextSize(name, _FONT, scale, 1)[0][0] > cell - 4:
            scale -= 0.02
        cv2.putText(panel, name, (2, title_height - 5), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(panel)
    return np.concatenate(panels, axis=1)


def to_png(array: np.ndarray, compression: int = 1) -> bytes:
    """Encode an RGB ``(H, W, 3)`` or gray ``(H, W)`` uint8 array as PNG bytes (fast compression)."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise ValueError(f"to_png expects uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    elif arr.ndim != 2:
        raise ValueError(f"to_png expects (H, W, 3) RGB or (H, W) gray, got shape {arr.shape}")
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()
