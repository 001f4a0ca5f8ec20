"""Backgrounds and clutter, drawn from the shared palette for every kind."""

from __future__ import annotations

import cv2
import numpy as np

from cvd_explorer.data.synthetic.draw import _ONE, _SHIFT, PALETTE, _c, _fixed, _pick, bezier


def _background(rng: np.random.Generator, side: int) -> np.ndarray:
    c0, c1 = _pick(rng, PALETTE), _pick(rng, PALETTE)
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:side, 0:side] / side
    if kind == 0:  # linear gradient
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * xx + np.sin(a) * yy)
        t = (t - t.min()) / (np.ptp(t) + 1e-9)
    elif kind == 1:  # soft noise texture
        small = rng.random((6, 6))
        t = cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC)
        t = np.clip((t - t.min()) / (np.ptp(t) + 1e-9), 0, 1)
    else:  # stripes
        a, f = rng.uniform(0, np.pi), rng.uniform(3, 9)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * (np.cos(a) * xx + np.sin(a) * yy))
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    grain = cv2.resize(rng.normal(0, 5, (side // 4, side // 4)), (side, side),
                       interpolation=cv2.INTER_LINEAR)
    img += grain[..., None]
    out: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _distractors(rng: np.random.Generator, canvas: np.ndarray) -> None:
    side = canvas.shape[0]
    for _ in range(rng.integers(2, 6)):
        col = _c(_pick(rng, PALETTE))
        kind = rng.integers(4)
        cx, cy = rng.uniform(0, side, 2)
        s = rng.uniform(0.03, 0.09) * side
        if kind == 0:
            thick = -1 if rng.random() < 0.6 else max(2, int(s / 5))
            cv2.circle(canvas, (int(cx * _ONE), int(cy * _ONE)), int(s * _ONE), col, thick,
                       cv2.LINE_AA, _SHIFT)
        elif kind == 1:
            box = cv2.boxPoints(((cx, cy), (s * rng.uniform(1, 2.5), s), rng.uniform(0, 180)))
            cv2.fillPoly(canvas, [_fixed(box)], col, cv2.LINE_AA, _SHIFT)
        elif kind == 2:
            a = rng.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * s * 2
            pts = np.array([(cx, cy) - d, (cx, cy) + d])
            cv2.polylines(canvas, [_fixed(pts)], False, col, max(2, int(s / 6)), cv2.LINE_AA, _SHIFT)
        else:
            k = rng.integers(6, 10)
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = s * rng.uniform(0.6, 1.2, k)
            pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
            mids = (pts + np.roll(pts, -1, axis=0)) / 2  # quadratic splines through midpoints
            smooth = np.concatenate([bezier([mids[i - 1], pts[i], mids[i]], 8) for i in range(k)])
            cv2.fillPoly(canvas, [_fixed(smooth)], col, cv2.LINE_AA, _SHIFT)

