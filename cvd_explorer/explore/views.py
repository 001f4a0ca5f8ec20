"""Compose the Explorer's views of a cached explanation into RGB arrays (and PNG bytes).

These run on every slider step, so they only slice cached arrays and call
:mod:`cvd_explorer.render`; nothing here runs the model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer import render
from cvd_explorer.explain.registry import PIXEL, method_spec
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


def layer_note(method: str) -> str:
    """What the layer slider does for ``method``: ``""`` for a CAM, a sentence for a pixel method."""
    spec = method_spec(method)
    if spec.family != PIXEL:
        return ""
    if spec.uses_layer:
        return f"{spec.label}: guided backprop × the Grad-CAM of the selected layer"
    return (f"the layer slider does not apply to {spec.label}: it attributes to the input pixels "
            "(the slider still moves the feature maps)")


def pixel_note(se: SampleExplanation) -> str:
    """Integrated gradients' completeness gap for the sample, or ``""``."""
    gap = se.completeness_gap
    if gap is None:
        return ""
    steps = se.pixel.options.get("steps") if se.pixel is not None else None
    more = "; raise the steps" if gap > 0.05 else ""
    return (f"completeness gap {gap:.1%} at {steps} steps (sum of attributions vs score(image) − "
            f"score(baseline)){more}")


def strip_view(se: SampleExplanation, n: int = 8) -> np.ndarray:
    """Depth strip: the CAM at ``n`` evenly spaced explained layers. uint8 ``(h, w, 3)``.

    A pixel method with no layer has one map: the strip is that map alone, titled by the method.
    """
    if se.is_pixel and not se.uses_layer:
        return render.depth_strip(se.image, {se.method: se.cam(se.layers[-1])}, n=1)
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
    float32 ``(C,)``, ``probs`` float32 ``(K,)`` (the class probabilities in class order), and ``layer``,
    ``method``, ``target`` (the class explained, or "predicted"), ``sample``, ``prob`` as 0-d arrays.
    For a pixel method ``cam`` is its ``(H, W)`` map, ``attribution`` the signed ``(H, W, 3)``
    attributions, ``cam_raw`` and ``channel_weights`` are Grad-CAM's at the layer (the feature
    grid's order), and integrated gradients add ``completeness_gap``.

    Returns:
        The two paths written.
    """
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(se.row.name).stem) or "sample"
    base = out / f"{stem}_{layer}"
    png, npz = base.with_name(base.name + ".png"), base.with_name(base.name + ".npz")
    png.write_bytes(render.to_png(composed))
    # Any: mypy refuses a dict of arrays as **kwargs beside numpy's `allow_pickle: bool` keyword
    extra: dict[str, Any] = {}
    signed = se.attribution(layer)
    if signed is not None:
        extra["attribution"] = np.asarray(signed, np.float32)
    if se.completeness_gap is not None:
        extra["completeness_gap"] = np.array(se.completeness_gap)
    np.savez_compressed(
        npz,
        **extra,
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
        probs=np.asarray(se.row.class_probs(), np.float32),
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
