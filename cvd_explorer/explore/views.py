"""Compose the Explorer's views of a cached explanation into RGB arrays (and PNG bytes).

These run on every slider step, so they only slice cached arrays and call
:mod:`cvd_explorer.render`; nothing here runs the model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from cvd_explorer import render
from cvd_explorer.explore.session import SampleExplanation

DISPLAY_SIDE = 256
FEATURE_ORDERS = ("activation", "cam-weight")


def layer_label(name: str, index: int, total: int, shape: tuple[int, ...] | None) -> str:
    """``"conv3_block2_2_conv · 23/53 · 8×8×128"``; ``index`` counts from 0, shown from 1."""
    text = f"{name} · {index + 1}/{total}"
    if shape:
        text += " · " + "×".join(str(d) for d in shape)
    return text


def display_image(image: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """uint8 ``(H, W, 3)`` scaled up (bilinear) so its shorter side is at least ``side``."""
    import cv2

    h, w = image.shape[:2]
    scale = side / min(h, w)
    if scale <= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)


def feature_view(se: SampleExplanation, layer: str, top_k: int = 16, order: str = "activation") -> np.ndarray:
    """Grid of the ``top_k`` feature maps of ``layer``, each channel normalised. uint8 ``(h, w, 3)``."""
    if order not in FEATURE_ORDERS:
        raise ValueError(f"order must be one of {FEATURE_ORDERS}, got {order!r}")
    return render.feature_grid(
        se.activations(layer), top_k=int(top_k), order=order, weights=se.channel_weights(layer)
    )


def cam_view(se: SampleExplanation, layer: str, alpha: float = 0.4, display: np.ndarray | None = None) -> np.ndarray:
    """CAM of ``layer`` over the image. uint8 ``(H, W, 3)`` at display size.

    Args:
        display: the image already scaled by :func:`display_image` (saves a resize per step).
    """
    base = display if display is not None else display_image(se.image)
    return render.cam_overlay(base, se.cam(layer), alpha=float(alpha))


def evidence_note(se: SampleExplanation, layer: str) -> str:
    """Why the CAM view of ``layer`` shows the plain image, or ``""`` when it shows a map.

    A CAM that is all zero after the ReLU means the layer holds no positive evidence for the
    target class: ``"no positive evidence for dog at this layer"``.
    """
    return "" if se.has_evidence(layer) else f"no positive evidence for {se.target_class} at this layer"


def strip_view(se: SampleExplanation, n: int = 8) -> np.ndarray:
    """Depth strip: the CAM at ``n`` evenly spaced explained layers. uint8 ``(h, w, 3)``."""
    cams = {layer: se.cam(layer) for layer in se.layers}
    return render.depth_strip(se.image, cams, n=min(int(n), len(cams)))


def side_by_side(*arrays: np.ndarray, gap: int = 8) -> np.ndarray:
    """uint8 RGB arrays placed left to right on white, tops aligned."""
    height = max(a.shape[0] for a in arrays)
    width = sum(a.shape[1] for a in arrays) + gap * (len(arrays) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for a in arrays:
        out[: a.shape[0], x : x + a.shape[1]] = a[..., :3]
        x += a.shape[1] + gap
    return out


def export(
    folder: str | os.PathLike[str], se: SampleExplanation, layer: str, composed: np.ndarray
) -> tuple[Path, Path]:
    """Write ``<folder>/<sample stem>_<layer>.png`` (``composed``) and ``.npz`` (arrays).

    The ``.npz`` holds ``image`` uint8 ``(S, S, 3)``, ``activations`` float32 ``(h, w, C)``,
    ``cam`` float32 ``(h, w)`` in [0, 1], ``cam_raw`` float32 ``(h, w)``, ``channel_weights``
    float32 ``(C,)``, and ``layer``, ``method``, ``target``, ``sample``, ``prob`` as 0-d arrays.

    Returns:
        The two paths written.
    """
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(se.row.name).stem) or "sample"
    base = out / f"{stem}_{layer}"
    png, npz = base.with_name(base.name + ".png"), base.with_name(base.name + ".npz")
    png.write_bytes(render.to_png(composed))
    np.savez_compressed(
        npz,
        image=se.image,
        activations=se.activations(layer),
        cam=se.cam(layer),
        cam_raw=np.asarray(se.explanation.cams[layer][0], np.float32),
        channel_weights=se.channel_weights(layer),
        layer=np.array(layer),
        method=np.array(se.method),
        target=np.array(se.target),
        sample=np.array(se.row.key),
        prob=np.array(se.row.prob),
    )
    return png, npz


def thumbnail_jpeg(image: np.ndarray | None, px: int = 96) -> bytes:
    """JPEG bytes of ``image`` (uint8 ``(H, W, 3)``) squashed to ``px`` × ``px``.

    None gives a grey "broken image" tile with a red cross.
    """
    import cv2

    tile: np.ndarray
    if image is None:
        tile = np.full((px, px, 3), 200, np.uint8)
        cv2.line(tile, (px // 4, px // 4), (3 * px // 4, 3 * px // 4), (200, 30, 30), 4)
        cv2.line(tile, (3 * px // 4, px // 4), (px // 4, 3 * px // 4), (200, 30, 30), 4)
    else:
        tile = cv2.resize(image, (px, px), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(tile, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode a thumbnail")
    return buf.tobytes()
