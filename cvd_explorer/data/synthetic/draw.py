"""Drawing primitives: parts in a local frame, a similarity transform, a painter; the shared palette."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# Shared palette: fur, background and distractor colours all come from here (RGB).
PALETTE = np.array(
    [
        (222, 140, 62), (196, 108, 44), (128, 128, 136), (72, 72, 78), (38, 38, 42),
        (238, 236, 228), (234, 214, 174), (122, 82, 52), (190, 150, 102), (214, 176, 92),
        (180, 182, 188), (92, 62, 42), (150, 110, 80), (205, 190, 160),
    ],
    dtype=np.float64,
)
EYE_COLOURS = np.array(
    [(150, 200, 80), (230, 200, 60), (120, 170, 220), (210, 140, 50), (240, 240, 230)],
    dtype=np.float64,
)
SKIN_COLOURS = np.array(
    [(245, 210, 180), (224, 172, 130), (176, 120, 84), (120, 80, 56)], dtype=np.float64
)
NOSE_DARK = (40, 30, 32)

_SHIFT = 4  # fixed-point bits for sub-pixel OpenCV drawing
_ONE = 1 << _SHIFT
_SS = 2  # supersampling factor

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Part:
    """One drawable piece of a figure in its local frame (x forward, y down).

    Attributes:
        kind: ``"poly"`` (filled closed polygon) or ``"line"`` (open polyline of ``width``).
        pts: (k, 2) float64 points in local units.
        colour: RGB fill or stroke colour.
        width: line width in local units (``"line"`` only).
        outline: draw a dark outline under the part first.
    """

    kind: str
    pts: np.ndarray
    colour: Colour
    width: float = 0.0
    outline: bool = True


@dataclass
class Figure:
    """Parts of one figure plus its pose in the canvas.

    ``scale`` is canvas pixels per local unit; ``angle`` degrees; ``flip`` -1 mirrors x.
    """

    parts: list[Part]
    outline_colour: Colour
    outline_width: float
    scale: float = 1.0
    angle: float = 0.0
    flip: int = 1
    offset: tuple[float, float] = (0.0, 0.0)

    def transform(self, pts: np.ndarray) -> np.ndarray:
        """Map (k, 2) local points to canvas pixels, float64."""
        a = math.radians(self.angle)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        p = pts * np.array([self.flip, 1.0])
        out: np.ndarray = p @ rot.T * self.scale + np.asarray(self.offset)
        return out

    def bbox(self) -> tuple[float, float, float, float]:
        """Canvas bounding box ``(x0, y0, x1, y1)`` of all parts, widths included."""
        lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
        for part in self.parts:
            p = self.transform(part.pts)
            pad = (part.width / 2 + (self.outline_width if part.outline else 0)) * self.scale
            lo = np.minimum(lo, p.min(axis=0) - pad)
            hi = np.maximum(hi, p.max(axis=0) + pad)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(pts * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _draw_part(img: np.ndarray, pts: np.ndarray, part: Part, colour: tuple[int, ...] | int, width_px: float,
               aa: bool) -> None:
    line_type = cv2.LINE_AA if aa else cv2.LINE_8
    if part.kind == "poly" and width_px <= 0:
        cv2.fillPoly(img, [_fixed(pts)], colour, line_type, _SHIFT)
    else:
        closed = part.kind == "poly"
        cv2.polylines(img, [_fixed(pts)], closed, colour, max(1, round(width_px)), line_type, _SHIFT)


def paint(canvas: np.ndarray, fig: Figure, idmap: np.ndarray | None = None, value: int = 0) -> None:
    """Paint ``fig`` onto ``canvas`` (H, W, 3) uint8 and optionally ``value`` into ``idmap`` (H, W)."""
    out_px = fig.outline_width * fig.scale
    for part in fig.parts:
        pts = fig.transform(part.pts)
        line_px = part.width * fig.scale
        if part.outline:
            ow = (line_px if part.kind == "line" else 0) + 2 * out_px
            outline = Part("line" if part.kind == "line" else "poly", part.pts, part.colour)
            for img, col, aa in _targets(canvas, idmap, fig.outline_colour, value):
                _draw_part(img, pts, outline, col, ow, aa)
        for img, col, aa in _targets(canvas, idmap, part.colour, value):
            _draw_part(img, pts, part, col, line_px if part.kind == "line" else 0, aa)


def _targets(
    canvas: np.ndarray, idmap: np.ndarray | None, colour: Colour, value: int
) -> Iterator[tuple[np.ndarray, tuple[int, ...] | int, bool]]:
    yield canvas, tuple(int(c) for c in colour), True
    if idmap is not None:
        yield idmap, int(value), False


def ellipse(cx: float, cy: float, ax: float, ay: float, rot: float = 0.0, n: int = 40) -> np.ndarray:
    """(n, 2) points on an ellipse centred at (cx, cy), semi-axes (ax, ay), rotated ``rot`` degrees."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    p = np.stack([ax * np.cos(t), ay * np.sin(t)], axis=1)
    r = math.radians(rot)
    p = p @ np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
    out: np.ndarray = p + np.array([cx, cy])
    return out


def bezier(ctrl: Sequence[Sequence[float] | np.ndarray], n: int = 24) -> np.ndarray:
    """(n, 2) points on the Bezier curve with control points ``ctrl``."""
    t = np.linspace(0, 1, n)[:, None]
    pts = [np.broadcast_to(np.asarray(c, dtype=np.float64), (n, 2)) for c in ctrl]
    while len(pts) > 1:  # de Casteljau
        pts = [(1 - t) * a + t * b for a, b in zip(pts[:-1], pts[1:], strict=True)]
    return pts[0]


def tapered(center: np.ndarray, w0: float, w1: float) -> np.ndarray:
    """Closed polygon around a centre line whose width goes from ``w0`` to ``w1``."""
    d = np.gradient(center, axis=0)
    nrm = np.stack([-d[:, 1], d[:, 0]], axis=1)
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-12
    w = np.linspace(w0, w1, len(center))[:, None] / 2
    cap = ellipse(float(center[-1, 0]), float(center[-1, 1]), w1 / 2, w1 / 2, n=12)
    left, right = center + nrm * w, center - nrm * w
    return np.concatenate([left, cap[_cap_order(cap, center)], right[::-1]])


def _cap_order(cap: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Indices of the cap points on the outer side of the tip, ordered left to right."""
    tip, direction = center[-1], center[-1] - center[-2]
    ang = np.arctan2(cap[:, 1] - tip[1], cap[:, 0] - tip[0]) - math.atan2(direction[1], direction[0])
    ang = (ang + np.pi) % (2 * np.pi) - np.pi
    keep = np.where(np.abs(ang) < np.pi / 2)[0]
    return keep[np.argsort(ang[keep])]


def capsule(p0: Sequence[float], p1: Sequence[float], width: float, colour: Colour) -> Part:
    """A rounded bar from ``p0`` to ``p1`` (a thick line with round caps)."""
    return Part("line", np.array([p0, p1], dtype=np.float64), colour, width)


def _pick(rng: np.random.Generator, table: np.ndarray, jitter: float = 14.0) -> np.ndarray:
    c = table[rng.integers(len(table))] + rng.uniform(-jitter, jitter, 3)
    out: np.ndarray = np.clip(c, 0, 255)
    return out


def _c(rgb: np.ndarray) -> Colour:
    return tuple(int(round(v)) for v in np.clip(rgb, 0, 255))  # type: ignore[return-value]

