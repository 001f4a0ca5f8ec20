"""Deterministic cartoon cats and dogs with ground-truth masks, for demos and tests.

The two classes differ only by *localized shape evidence*; colour and background are drawn from
distributions shared by both classes, so a model that learns them learns where the animal is:

* cat: pointed triangular ears, slit pupils, a small round muzzle inside the head outline,
  whiskers, slim legs and a long thin upright tail;
* dog: floppy ears hanging beside a wider head, round pupils, a snout protruding beyond the head
  with a big dark nose, sturdier legs and a short thick wagging tail.

Every scene is drawn at twice the output size with antialiased OpenCV primitives and downsampled
(area interpolation), so edges look like a cartoon, not noise. Random draws shared by both
classes (background, colours, pose, position) come from the scene generator; the draws that
shape the animal come from a child generator spawned at a fixed point, so ``render_sample(s,
"cat")`` and ``render_sample(s, "dog")`` show the same colours and background and differ only
where the animal's shape differs.

Hard cases: ``"person"`` (a stick-and-blob person, taller than the animal, stands next to it),
``"both"`` (a cat and a dog, labelled by the larger one) and ``"occluded"`` (an opaque box hides
30-60 % of the animal, head, ears or tail included).

Only numpy, OpenCV and Pillow are used here.
"""

from __future__ import annotations

import inspect
import io
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from cvd_explorer.errors import DataError

_P = ParamSpec("_P")

GENERATOR_VERSION = 2  # 2: bigger animals, heads and ears; lighter clutter (learnable at 64 px)
LABELS = ("cat", "dog")
CASES = ("normal", "person", "both", "occluded")
HARD_CASES = ("person", "both", "occluded")
META_NAME = "synthetic.json"
TRUTH_NAME = "synth-truth.json"
"""Planted label flips and copies, at the data root: not an image, so the scan ignores it."""
MASK_DIR = "_masks"
JPEG_QUALITY = 92
COPY_KINDS = ("exact", "reencoded", "resized", "lossless", "recompressed")
"""How planted copies are written, in turn: the same bytes; JPEG quality 60; half the size (JPEG
85); PNG of the decoded pixels (the same pixels, another file); decoded and saved again at 80."""

# The demo: data and training settings with which resnet-mini learns this generator on 2 CPU
# cores (tests/unit/test_synthetic_learnable.py). Measured (generator v2, 2 shared cores):
# test accuracy 0.972 (9 of 320 wrong: 8 normal, 1 occluded) after 151 s of training (2,752 steps),
# whole test 249 s with generation; animals removed: accuracy 0.48, mean P(dog) gap +0.03;
# 8x8 patch-shuffled: accuracy 0.49. Tried: no augmentation memorizes (val ~0.55); lr 0.02 for
# 1,720 steps 0.92; batch 64 lr 0.1 for 1,155 steps 0.73 (validation swings while BN settles).
DEMO_DATA: dict[str, Any] = {"n": 2000, "size": 128, "seed": 0}
# What the demo plants for the atlas to find: 4% of the images drawn as the other class than their
# name says (label errors), and 40 copies (exact, re-encoded, resized), the truth in synth-truth.json.
DEMO_PLANTED: dict[str, Any] = {"label_noise": 0.04, "duplicates": 40}
DEMO_TRAIN: dict[str, Any] = {
    "arch": "resnet-mini",
    "image_size": 64,
    "batch_size": 32,
    "steps_per_epoch": 86,  # two passes over the 1,360 training images
    "val_steps": "all",
    "epochs": 32,
    "lr": 0.05,
    "momentum": 0.9,
    "augment": True,  # without it resnet-mini memorizes the 1,360 images (val ~55 %)
    "cache_images": True,
}

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


# --------------------------------------------------------------------------------------------
# Drawing primitives: parts in a local frame, a similarity transform, a painter.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, table: np.ndarray, jitter: float = 14.0) -> np.ndarray:
    c = table[rng.integers(len(table))] + rng.uniform(-jitter, jitter, 3)
    out: np.ndarray = np.clip(c, 0, 255)
    return out


def _c(rgb: np.ndarray) -> Colour:
    return tuple(int(round(v)) for v in np.clip(rgb, 0, 255))  # type: ignore[return-value]


@dataclass(frozen=True)
class Coat:
    """Colours of one animal, drawn from distributions shared by both classes."""

    fur: np.ndarray
    accent: np.ndarray
    light: np.ndarray
    eye: np.ndarray
    whisker: Colour
    outline: Colour
    pattern: str  # "plain", "stripes" or "patches"

    @staticmethod
    def sample(rng: np.random.Generator) -> Coat:
        fur = _pick(rng, PALETTE)
        dark = fur.mean() < 90
        accent = fur * 0.62 if not dark else fur + 45
        light = fur * 0.45 + 255 * 0.55
        eye = _pick(rng, EYE_COLOURS, 10)
        whisker = (235, 235, 235) if dark else (40, 36, 36)
        outline = _c(fur * 0.3) if not dark else (12, 12, 14)
        pattern = ("plain", "stripes", "patches")[rng.choice(3, p=[0.5, 0.3, 0.2])]
        return Coat(fur, accent, light, eye, whisker, outline, pattern)


# --------------------------------------------------------------------------------------------
# Animals: shared body plan, class-specific head, ears, legs and tail.
# --------------------------------------------------------------------------------------------


def _legs(rng: np.random.Generator, width: float, colour: Colour, xs: Sequence[float]) -> list[Part]:
    parts = []
    for x in xs:
        swing = rng.uniform(-0.07, 0.07)
        parts.append(capsule((x, 0.05), (x + swing, 0.46), width, colour))
    return parts


def _pattern(rng: np.random.Generator, coat: Coat, bw: float, bh: float) -> list[Part]:
    col = _c(coat.accent)
    if coat.pattern == "stripes":
        xs = np.linspace(-0.6 * bw, 0.6 * bw, rng.integers(3, 6))
        return [
            Part("line", np.array([(x, -0.92 * bh), (x + 0.04, -0.3 * bh)]), col, 0.045, False)
            for x in xs
        ]
    if coat.pattern == "patches":
        return [
            Part("poly", ellipse(rng.uniform(-0.5, 0.5) * bw, rng.uniform(-0.5, 0.2) * bh,
                                 rng.uniform(0.06, 0.13), rng.uniform(0.05, 0.09),
                                 rng.uniform(0, 180)), col, outline=False)
            for _ in range(rng.integers(1, 4))
        ]
    return []


def _eyes(cx: float, cy: float, r: float, coat: Coat, slit: bool) -> list[Part]:
    parts = []
    for dx in (-0.05 * r, 0.55 * r):
        ex, ey = cx + dx, cy - 0.12 * r
        parts.append(Part("poly", ellipse(ex, ey, 0.2 * r, 0.22 * r), _c(coat.eye), outline=True))
        pupil = ellipse(ex + 0.03 * r, ey, 0.055 * r, 0.18 * r) if slit else \
            ellipse(ex + 0.03 * r, ey, 0.12 * r, 0.12 * r)
        parts.append(Part("poly", pupil, (20, 20, 22), outline=False))
        parts.append(Part("poly", ellipse(ex - 0.04 * r, ey - 0.08 * r, 0.04 * r, 0.04 * r),
                          (250, 250, 250), outline=False))
    return parts


def _body(rng: np.random.Generator, coat: Coat, half_axes: tuple[float, float], leg_width: float,
          leg_xs: tuple[Sequence[float], Sequence[float]], neck: np.ndarray) -> list[Part]:
    """The far legs (accent colour), the body ellipse with its coat pattern, the near legs and the neck
    polygon ``neck`` (N, 2), in drawing order; ``leg_xs`` is (far, near) leg positions."""
    fur, acc = _c(coat.fur), _c(coat.accent)
    bw, bh = half_axes
    parts = _legs(rng, leg_width, acc, leg_xs[0])
    parts.append(Part("poly", ellipse(0, 0, bw, bh), fur))
    parts += _pattern(rng, coat, bw, bh)
    parts += _legs(rng, leg_width, fur, leg_xs[1])
    parts.append(Part("poly", neck, fur, outline=False))
    return parts


def cat_parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of a cat facing +x, body centred at the origin, about 1.5 x 1.2 local units."""
    fur, acc = _c(coat.fur), _c(coat.accent)
    bw, bh = 0.46, 0.2
    hx, hy, r = 0.52 + rng.uniform(-0.03, 0.03), -0.36 + rng.uniform(-0.04, 0.04), 0.27
    curl = rng.uniform(-0.18, 0.18)
    tail = tapered(bezier([(-0.4, -0.05), (-0.72, -0.1), (-0.62 + curl, -0.55),
                           (-0.5 + 1.5 * curl, -0.78)]), 0.07, 0.055)
    parts = [Part("poly", tail, fur)]
    parts += _body(rng, coat, (bw, bh), 0.08, ((-0.28, 0.3), (-0.18, 0.4)),
                   np.array([(0.2, -0.12), (hx - 0.12, hy), (hx + 0.1, hy + 0.1), (0.45, 0.05)]))
    # tall pointed ears standing up from the top of the head
    for a0, a1, tip in ((-168, -108, -130), (-72, -12, -50)):
        t0, t1, tp = (math.radians(a) for a in (a0, a1, tip))
        lean = rng.uniform(-0.08, 0.08)
        reach = rng.uniform(2.25, 2.5) * r
        base0 = (hx + 0.95 * r * math.cos(t0), hy + 0.95 * r * math.sin(t0))
        base1 = (hx + 0.95 * r * math.cos(t1), hy + 0.95 * r * math.sin(t1))
        apex = (hx + reach * math.cos(tp + lean), hy + reach * math.sin(tp + lean))
        ear = np.array([base0, apex, base1])
        parts.append(Part("poly", ear, fur))
        inner = ear * 0.55 + ear.mean(axis=0) * 0.45 + np.array([0, 0.012])
        parts.append(Part("poly", inner, acc, outline=False))
    parts.append(Part("poly", ellipse(hx, hy, r, r), fur))
    parts += _eyes(hx, hy, r, coat, slit=True)
    mx, my = hx + 0.3 * r, hy + 0.45 * r
    for dx in (-0.14 * r, 0.14 * r):
        parts.append(Part("poly", ellipse(mx + dx, my, 0.16 * r, 0.13 * r), _c(coat.light), outline=False))
    parts.append(Part("poly", np.array([(mx - 0.09 * r, my - 0.16 * r), (mx + 0.09 * r, my - 0.16 * r),
                                        (mx, my - 0.04 * r)]), (200, 110, 120), outline=False))
    for side in (-1, 1):
        for k, dy in enumerate((-0.12, 0.02, 0.16)):
            p0 = (mx + side * 0.2 * r, my + dy * r * 0.5)
            p1 = (mx + side * (1.25 + 0.1 * k) * r, my + (dy * 1.6 - 0.05) * r)
            parts.append(Part("line", np.array([p0, p1]), coat.whisker, 0.012, outline=False))
    return parts


def dog_parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of a dog facing +x, body centred at the origin, about 1.6 x 1.1 local units."""
    fur, acc = _c(coat.fur), _c(coat.accent)
    bw, bh = 0.48, 0.23
    hx, hy, r = 0.5 + rng.uniform(-0.03, 0.03), -0.36 + rng.uniform(-0.04, 0.04), 0.26
    wag = math.radians(rng.uniform(-165, -110))
    base = np.array([-0.42, -0.08])
    tip = base + 0.36 * np.array([math.cos(wag), math.sin(wag)])
    mid = (base + tip) / 2 + 0.06 * np.array([math.sin(wag), -math.cos(wag)]) * rng.choice([-1, 1])
    parts = [Part("poly", tapered(bezier([base, mid, tip], 16), 0.14, 0.06), fur)]
    parts += _body(rng, coat, (bw, bh), 0.115, ((-0.3, 0.3), (-0.2, 0.4)),
                   np.array([(0.22, -0.15), (hx - 0.14, hy), (hx + 0.1, hy + 0.12), (0.45, 0.08)]))
    parts.append(Part("poly", ellipse(hx, hy, 1.2 * r, 0.98 * r), fur))
    parts += _eyes(hx - 0.1 * r, hy - 0.1 * r, r, coat, slit=False)
    # protruding snout with a big dark nose
    sx, sy = hx + 1.05 * r, hy + 0.42 * r
    parts.append(Part("poly", ellipse(sx, sy, 0.68 * r, 0.36 * r, rng.uniform(-8, 8)), _c(coat.light)))
    parts.append(Part("poly", ellipse(sx + 0.55 * r, sy - 0.14 * r, 0.22 * r, 0.17 * r), NOSE_DARK,
                      outline=False))
    parts.append(Part("line", bezier([(sx + 0.45 * r, sy + 0.2 * r), (sx + 0.1 * r, sy + 0.34 * r),
                                      (sx - 0.35 * r, sy + 0.22 * r)], 8), NOSE_DARK, 0.018,
                      outline=False))
    # long floppy ears hanging from the top of the head far below the jaw
    for ax, lean in ((-0.95, 14.0), (0.3, -8.0)):
        droop = rng.uniform(-8, 8)
        length = rng.uniform(1.1, 1.3) * r
        top = (hx + ax * r, hy - 0.8 * r)
        ear = ellipse(top[0] - 0.05 * r, top[1] + length, 0.34 * r, length, lean + droop)
        parts.append(Part("poly", ear, acc))
    return parts


ANIMALS: dict[str, Callable[[np.random.Generator, Coat], list[Part]]] = {
    "cat": cat_parts,
    "dog": dog_parts,
}


def person_parts(rng: np.random.Generator) -> tuple[list[Part], Colour]:
    """A stick-and-blob person, feet at y=0, head top at y=-1; returns parts and outline colour."""
    skin = _c(_pick(rng, SKIN_COLOURS, 8))
    shirt, trousers = _c(_pick(rng, PALETTE)), _c(_pick(rng, PALETTE) * 0.8)
    arm_l, arm_r = rng.uniform(-60, 60, 2)
    parts = []
    for x0, x1 in ((-0.055, -0.1), (0.055, 0.1)):
        parts.append(capsule((x0, -0.38), (x1 + rng.uniform(-0.04, 0.04), -0.03), 0.085, trousers))
    parts.append(Part("poly", np.array([(-0.14, -0.74), (0.14, -0.74), (0.11, -0.34),
                                        (-0.11, -0.34)]), shirt))
    for side, ang in ((-1, arm_l), (1, arm_r)):
        a = math.radians(90 - side * (20 + ang * 0.5))
        p0 = (side * 0.14, -0.7)
        p1 = (p0[0] + side * 0.3 * abs(math.cos(a)), p0[1] + 0.3 * math.sin(a))
        parts.append(capsule(p0, p1, 0.07, shirt))
        parts.append(Part("poly", ellipse(p1[0], p1[1], 0.045, 0.045), skin))
    parts.append(capsule((0, -0.8), (0, -0.72), 0.07, skin))
    parts.append(Part("poly", ellipse(0, -0.89, 0.1, 0.11), skin))
    parts.append(Part("poly", ellipse(0, -0.965, 0.1, 0.045), _c(_pick(rng, PALETTE) * 0.6), outline=False))
    return parts, (30, 28, 30)


# --------------------------------------------------------------------------------------------
# Background and distractors
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Scene layout and rendering
# --------------------------------------------------------------------------------------------


def _rng(rng_or_seed: np.random.Generator | int | Sequence[int]) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


def _animal(rng: np.random.Generator, label: str, size_frac: float, side: int) -> Figure:
    """An animal figure with coat and pose from ``rng``; shape draws from a spawned child."""
    shape_rng = np.random.default_rng(rng.integers(2**63))
    coat = Coat.sample(rng)
    fig = Figure(ANIMALS[label](shape_rng, coat), coat.outline, 0.022)
    fig.angle = rng.uniform(-14, 14)
    fig.flip = int(rng.choice([-1, 1]))
    x0, y0, x1, y1 = fig.bbox()
    fig.scale = size_frac * side / max(x1 - x0, y1 - y0)
    return fig


def _layout(rng: np.random.Generator, figs: list[Figure], side: int, ground: bool) -> None:
    """Place figures side by side (random order), inside the canvas, on a common ground line."""
    order = list(rng.permutation(len(figs)))
    margin = 0.02 * side
    boxes = [f.bbox() for f in figs]
    widths = [b[2] - b[0] for b in boxes]
    heights = [b[3] - b[1] for b in boxes]
    room = side - 2 * margin
    shrink = min(1.0, room / (sum(widths) + margin * (len(figs) - 1)), room / max(heights))
    for f in figs:
        f.scale *= shrink
    boxes = [f.bbox() for f in figs]
    widths = [b[2] - b[0] for b in boxes]
    heights = [b[3] - b[1] for b in boxes]
    free = room - sum(widths) - margin * (len(figs) - 1)
    gaps = rng.dirichlet(np.ones(len(figs) + 1)) * free
    base = margin + rng.uniform(0, 1) * (room - max(heights)) + max(heights)
    x = margin
    for k, i in enumerate(order):
        x += gaps[k]
        b = boxes[i]
        bottom = base if ground else margin + heights[i] + rng.uniform(0, 1) * (room - heights[i])
        f = figs[i]
        f.offset = (f.offset[0] + x - b[0], f.offset[1] + bottom - b[3])
        x += widths[i] + margin


def _occluder(rng: np.random.Generator, idmap: np.ndarray, flip: int) -> np.ndarray:
    """Axis-aligned box ``(x0, y0, x1, y1)`` hiding 35-60 % of the animal (id 1) from one side.

    The side is the head side, the tail side or the top (ears), so distinctive parts are hidden.
    """
    side = rng.choice(["front", "back", "top"])
    target = rng.uniform(0.33, 0.5)
    ys, xs = np.nonzero(idmap == 1)
    pad = 0.03 * idmap.shape[0] + rng.uniform(0, 0.04) * idmap.shape[0]
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    from_right = (side == "front") == (flip == 1)
    if side == "top":
        counts = np.bincount(ys - y0, minlength=y1 - y0)
        cut = y0 + int(np.searchsorted(np.cumsum(counts) / len(ys), target))
        return np.array([x0 - pad, y0 - pad, x1 + pad, cut])
    counts = np.bincount(xs - x0, minlength=x1 - x0)
    if from_right:
        cut = x1 - int(np.searchsorted(np.cumsum(counts[::-1]) / len(xs), target))
        return np.array([cut, y0 - pad, x1 + pad, y1 + pad])
    cut = x0 + int(np.searchsorted(np.cumsum(counts) / len(xs), target))
    return np.array([x0 - pad, y0 - pad, cut, y1 + pad])


def _draw_box(rng: np.random.Generator, canvas: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Draw an opaque crate filling exactly ``box`` (snapped to whole output pixels).

    Returns:
        The snapped box ``(x0, y0, x1, y1)`` in canvas pixels, int, exclusive ends: every output
        pixel is either fully hidden or not hidden at all, so the mask stays exact.
    """
    side = canvas.shape[0]
    snapped: np.ndarray = np.clip(np.round(np.asarray(box, dtype=np.float64) / _SS).astype(int) * _SS, 0, side)
    x0, y0, x1, y1 = (int(v) for v in snapped)
    col = _pick(rng, PALETTE)
    canvas[y0:y1, x0:x1] = _c(col)
    for k in range(1, 4):  # planks, so it reads as a crate
        y = y0 + (y1 - y0) * k / 4
        cv2.line(canvas, (int((x0 + 3) * _ONE), int(y * _ONE)), (int((x1 - 4) * _ONE), int(y * _ONE)),
                 _c(col * 0.7), 2, cv2.LINE_AA, _SHIFT)
    inset = np.array([(x0 + 1.5, y0 + 1.5), (x1 - 2.5, y0 + 1.5), (x1 - 2.5, y1 - 2.5),
                      (x0 + 1.5, y1 - 2.5)])  # a 3 px outline drawn inside the box
    cv2.polylines(canvas, [_fixed(inset)], True, _c(col * 0.35), 3, cv2.LINE_AA, _SHIFT)
    return snapped


@dataclass
class Sample:
    """A rendered scene.

    Attributes:
        image: (size, size, 3) uint8 RGB.
        mask: (size, size) uint8; 0 background, 1 labelled animal, 2 the other animal.
        info: case, bounding box ``[x0, y0, x1, y1]`` (exclusive ends) of mask 1, and for
            ``"occluded"`` the hidden share of the animal.
    """

    image: np.ndarray
    mask: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def render_scene(
    rng_or_seed: np.random.Generator | int | Sequence[int],
    label: str,
    size: int = 128,
    case: str = "normal",
    *,
    draw_animal: bool = True,
) -> Sample:
    """Render one cartoon scene and its ground-truth mask, in memory.

    Args:
        rng_or_seed: a numpy ``Generator`` (consumed) or a seed for ``np.random.default_rng``.
        label: ``"cat"`` or ``"dog"``, the labelled (for ``"both"``: the larger) animal.
        size: side of the square output in pixels.
        case: ``"normal"``, ``"person"``, ``"both"`` or ``"occluded"``.
        draw_animal: False leaves the animals out and keeps everything else identical
            (background, distractors, person, occluder), so the mask can be checked against it;
            the mask returned is the same as with True.

    Returns:
        A :class:`Sample`: image (size, size, 3) uint8 RGB; mask (size, size) uint8 with 0 for
        background, 1 for every visible pixel of the labelled animal (ears, tail, whiskers
        included; pixels hidden by an occluder are 0) and 2 for the other animal in ``"both"``;
        info with the case and bounding boxes.
    """
    if label not in LABELS:
        raise DataError(f"label {label!r} is not one of {LABELS}")
    if case not in CASES:
        raise DataError(f"case {case!r} is not one of {CASES}")
    if not 16 <= size <= 2048:
        raise DataError(f"size {size} is out of range: use 16..2048 pixels")
    rng = _rng(rng_or_seed)
    side = size * _SS
    canvas = _background(rng, side)
    _distractors(rng, canvas)

    span = {"normal": (0.45, 0.8), "occluded": (0.55, 0.75)}.get(case, (0.4, 0.55))
    frac = float(rng.uniform(*span))
    main = _animal(rng, label, frac, side)
    figs, ids = [main], [1]
    person = None
    if case == "both":
        other_label = LABELS[1 - LABELS.index(label)]
        figs.append(_animal(rng, other_label, frac * rng.uniform(0.55, 0.75), side))
        ids.append(2)
    elif case == "person":
        parts, outline = person_parts(rng)
        person = Figure(parts, outline, 0.012, angle=rng.uniform(-4, 4))
        x0, y0, x1, y1 = main.bbox()
        person.scale = (y1 - y0) * rng.uniform(1.15, 1.6)
    _layout(rng, figs + ([person] if person else []), side, ground=case == "person")

    if person is not None:
        paint(canvas, person)
    idmap = np.zeros((side, side), np.uint8)
    scratch = canvas if draw_animal else canvas.copy()
    for fig, value in zip(figs, ids, strict=True):
        paint(scratch, fig, idmap, value)

    info: dict[str, Any] = {"case": case}
    if case == "occluded":
        full = _downsampled_mask(idmap, size)
        box = _occluder(rng, idmap, main.flip)
        bx0, by0, bx1, by1 = _draw_box(rng, canvas, box)
        idmap[by0:by1, bx0:bx1] = 0
    image = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    mask = _downsampled_mask(idmap, size)
    if case == "occluded":
        info["occluded_fraction"] = round(1 - (mask == 1).sum() / max(1, (full == 1).sum()), 3)
    info["bbox"] = _bbox(mask == 1)
    if case == "both":
        info["other_bbox"] = _bbox(mask == 2)
    return Sample(image, mask, info)


def _image_and_mask(render: Callable[_P, Sample]) -> Callable[_P, tuple[np.ndarray, np.ndarray]]:
    """``render`` with its arguments, returning ``(image, mask)`` of the :class:`Sample` it renders."""

    def render_sample(*args: _P.args, **kwargs: _P.kwargs) -> tuple[np.ndarray, np.ndarray]:
        sample = render(*args, **kwargs)
        return sample.image, sample.mask

    render_sample.__doc__ = f"""{render.__name__}(...) as ``(image, mask)``: the same arguments, without the info.

    ``render_sample(s, "cat", 64, "occluded")`` is ``(scene.image, scene.mask)`` of
    ``scene = {render.__name__}(s, "cat", 64, "occluded")``.
    """
    # help() and inspect show render's arguments and this return type
    render_sample.__signature__ = inspect.signature(render).replace(  # type: ignore[attr-defined]
        return_annotation="tuple[np.ndarray, np.ndarray]")
    return render_sample


render_sample = _image_and_mask(render_scene)


def _downsampled_mask(idmap: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8 labels: the id covering the most of each pixel if it covers >= 30 %."""
    cover = [cv2.resize((idmap == v).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
             for v in (1, 2)]
    stack = np.stack(cover)
    best = stack.argmax(axis=0)
    return np.where(stack.max(axis=0) >= 0.3, best + 1, 0).astype(np.uint8)


def _bbox(m: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


# --------------------------------------------------------------------------------------------
# Data set on disk (Kaggle flat layout) with masks and metadata
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthInfo:
    """What :func:`generate` produced (or found already there).

    Attributes:
        root: the output folder.
        n, size, seed, hard_fraction: the parameters.
        reused: True if a previous identical output was found and nothing was written.
        cases: number of images per case (``"normal"``, ``"person"``, ``"both"``, ``"occluded"``),
            planted copies left out.
        flipped: images written under the other class's name (``label_noise``).
        copies: images written again under new names (``duplicates``).
    """

    root: Path
    n: int
    size: int
    seed: int
    hard_fraction: float
    reused: bool
    cases: dict[str, int]
    flipped: int = 0
    copies: int = 0


def case_of(seed: int, label: str, index: int, hard_fraction: float) -> str:
    """The case of image ``<label>.<index>``: deterministic, the same whatever ``n`` is.

    Within each class, image i is hard when ``floor((i + 1) h + phi) > floor(i h + phi)`` for a
    seed-dependent phase phi in [0, 1): the first m images of a class hold floor(m h + phi) hard
    ones (m h of them when m h is whole), spread evenly; hard kinds take turns.
    """
    c = LABELS.index(label)
    phi = np.random.default_rng([seed, 7, c]).random()
    before = math.floor(index * hard_fraction + phi)
    if math.floor((index + 1) * hard_fraction + phi) == before:
        return "normal"
    return HARD_CASES[(before + c + seed) % len(HARD_CASES)]


def _params(n: int, size: int, seed: int, hard_fraction: float, label_noise: float = 0.0,
            duplicates: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = {"generator": "cvd_explorer.data.synthetic", "version": GENERATOR_VERSION,
                              "seed": seed, "n": n, "size": size, "hard_fraction": hard_fraction}
    if label_noise or duplicates:  # only when asked: outputs of the defaults stay byte-identical
        params.update(label_noise=label_noise, duplicates=duplicates)
    return params


def _check_noise(n: int, label_noise: float, duplicates: int) -> None:
    if not 0.0 <= label_noise <= 0.5:
        raise DataError(f"label_noise={label_noise}: use a share between 0 and 0.5")
    if not 0 <= duplicates <= n:
        raise DataError(f"duplicates={duplicates}: use 0..n ({n}) copies")


def flipped_jobs(n: int, seed: int, label_noise: float) -> set[tuple[str, int]]:
    """The ``(label, index)`` files that show the other class: ``round(n * label_noise)`` of them."""
    count = int(np.floor(n * label_noise + 0.5))
    jobs = [(label, i) for i in range(n // 2) for label in LABELS]
    chosen = np.random.default_rng([seed, 11]).choice(len(jobs), size=count, replace=False)
    return {jobs[int(k)] for k in chosen}


def copy_sources(n: int, seed: int, duplicates: int) -> list[tuple[str, int]]:
    """The ``(label, index)`` files copied, in order (copy k is of kind ``COPY_KINDS[k % 5]``)."""
    jobs = [(label, i) for i in range(n // 2) for label in LABELS]
    chosen = np.random.default_rng([seed, 13]).choice(len(jobs), size=duplicates, replace=False)
    return [jobs[int(k)] for k in chosen]


def _check_args(n: int, size: int, seed: int, hard_fraction: float) -> None:
    if n < 2 or n % 2:
        raise DataError(f"n={n}: use an even number of images of at least 2 (n/2 per class)")
    if not 16 <= size <= 2048:
        raise DataError(f"size={size} is out of range: use 16..2048 pixels")
    if seed < 0:
        raise DataError(f"seed={seed}: use a non-negative integer")
    if not 0.0 <= hard_fraction <= 1.0:
        raise DataError(f"hard_fraction={hard_fraction}: use a share between 0 and 1")


def _previous(out: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    """The metadata of a previous identical output in ``out``; None if ``out`` is empty.

    Raises:
        DataError: ``out`` is a file, a foreign non-empty folder, or another synthetic output.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file: choose a folder for the synthetic images")
    if not out.exists() or not any(out.iterdir()):
        return None
    meta_path = out / META_NAME
    if not meta_path.is_file():
        raise DataError(f"{out} is not empty and holds no {META_NAME}: it is not a synthetic "
                        "output, so nothing was written; choose an empty or new folder")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{meta_path} cannot be read ({exc}); choose another folder") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path} is not a synthetic output's metadata (no JSON object); choose another folder")
    old = {k: meta.get(k) for k in {*params, "label_noise", "duplicates"} if k in params or k in meta}
    if old != params:
        diff = ", ".join(f"{k} {old.get(k)!r} -> {params.get(k)!r}" for k in sorted(old.keys() | params.keys())
                         if old.get(k) != params.get(k))
        raise DataError(f"{out} holds synthetic images made with other parameters ({diff}); "
                        "choose another folder")
    return meta


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _encode_jpeg(image: NDArray[np.uint8], quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _encode_png(mask: NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(mask, "L").save(buf, "PNG")
    return buf.getvalue()


def generate(
    out: str | os.PathLike[str],
    n: int = 2000,
    size: int = 128,
    seed: int = 0,
    hard_fraction: float = 0.08,
    progress: Callable[[int, int], None] | None = None,
    *,
    label_noise: float = 0.0,
    duplicates: int = 0,
) -> SynthInfo:
    """Write a synthetic Cats-vs-Dogs folder with ground-truth masks.

    Layout: ``out/train/{cat,dog}.<i>.jpg`` (n/2 each, RGB, JPEG quality 92), one mask per image
    at ``out/_masks/train/{cat,dog}.<i>.png`` (uint8 L: 0 background, 1 labelled animal,
    2 the other animal) and ``out/synthetic.json`` (parameters and, per image, its case,
    bounding box ``[x0, y0, x1, y1]`` of mask 1 and, when occluded, the hidden share).
    Image ``<label>.<i>`` is drawn from ``np.random.default_rng([seed, class, i])``, so outputs
    are byte-identical for equal parameters and a larger ``n`` extends a smaller one.

    With ``label_noise`` or ``duplicates``, the truth is written to ``out/synth-truth.json``
    (outside the class folders; no training reads it): ``flipped``, the files showing the other
    class (``{"path", "label": the name's class, "shown": the drawn class}``; their mask 1 is the
    drawn animal), and ``copies`` (``{"path", "copy_of", "kind"}``, kinds in :data:`COPY_KINDS`;
    copies are named ``<label>.<n/2 + k>.jpg`` (``.png`` when lossless) under the class of the
    file they copy, with a mask of their own).

    Args:
        out: folder to create, or an empty folder, or a previous output with equal parameters.
        n: number of images, even (n/2 per class); planted copies come on top.
        size: side of the square images in pixels.
        seed: non-negative integer seed.
        hard_fraction: share of hard images ("person", "both", "occluded" in turn); per class
            the count is within one of ``n/2 * hard_fraction`` (exact when that is whole).
        progress: called as ``progress(done, total)`` after each image.
        label_noise: share of the n images (rounded) drawn as the other class than their name
            says, chosen by the seed. 0 (the default) writes exactly what earlier versions did.
        duplicates: number of images written again under new names (0..n).

    Returns:
        A :class:`SynthInfo`; ``reused`` is True when an identical output was already there.

    Raises:
        DataError: bad parameters, or ``out`` is a non-empty folder that is not a synthetic
            output with the same parameters (nothing is written then).
    """
    _check_args(n, size, seed, hard_fraction)
    _check_noise(n, label_noise, duplicates)
    root = Path(out)
    params = _params(n, size, seed, hard_fraction, label_noise, duplicates)
    meta = _previous(root, params)
    truth_wanted = bool(label_noise or duplicates)
    if (meta is not None and meta.get("complete") and _all_present(root, meta)
            and (not truth_wanted or (root / TRUTH_NAME).is_file())):
        return _info(root, params, meta, reused=True)

    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / MASK_DIR / "train").mkdir(parents=True, exist_ok=True)
    meta = dict(params, complete=False, images=[])
    _write_atomic(root / META_NAME, _dump_meta(meta))
    flips = flipped_jobs(n, seed, label_noise) if label_noise else set()
    sources = copy_sources(n, seed, duplicates) if duplicates else []
    jobs = [(label, i) for i in range(n // 2) for label in LABELS]
    total = len(jobs) + len(sources)
    flipped: list[dict[str, str]] = []
    for done, (label, i) in enumerate(jobs, start=1):
        shown = LABELS[1 - LABELS.index(label)] if (label, i) in flips else label
        meta["images"].append(_write_one(root, seed, size, hard_fraction, label, i, shown))
        if shown != label:
            flipped.append({"path": f"train/{label}.{i}.jpg", "label": label, "shown": shown})
        if progress is not None:
            progress(done, total)
    copies: list[dict[str, str]] = []
    by_path = {e["path"]: e for e in meta["images"]}
    for k, (label, i) in enumerate(sources):
        entry = _write_copy(root, by_path[f"train/{label}.{i}.jpg"], f"{label}.{n // 2 + k}", COPY_KINDS[k % 5])
        meta["images"].append(entry)
        copies.append({"path": entry["path"], "copy_of": f"train/{label}.{i}.jpg", "kind": COPY_KINDS[k % 5]})
        if progress is not None:
            progress(len(jobs) + k + 1, total)
    if truth_wanted:
        truth = dict(params, flipped=flipped, copies=copies,
                     note="planted label flips and copies; training never reads this file")
        _write_atomic(root / TRUTH_NAME, (json.dumps(truth, indent=1) + "\n").encode())
    meta["complete"] = True
    _write_atomic(root / META_NAME, _dump_meta(meta))
    return _info(root, params, meta, reused=False)


def _dump_meta(meta: dict[str, Any]) -> bytes:
    """JSON with one line per image (no timestamps, so equal parameters give equal bytes)."""
    head = {k: v for k, v in meta.items() if k != "images"}
    lines = [json.dumps(e, sort_keys=True) for e in meta["images"]]
    body = json.dumps(head, indent=1)[:-2]
    return (body + ',\n "images": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n").encode()


def _write_one(root: Path, seed: int, size: int, hard_fraction: float, label: str, i: int,
               shown: str | None = None) -> dict[str, Any]:
    """Write ``<label>.<i>`` (drawing ``shown``, by default ``label``) and its mask."""
    case = case_of(seed, label, i, hard_fraction)
    sample = render_scene([seed, LABELS.index(label), i], shown or label, size, case)
    rel = f"train/{label}.{i}.jpg"
    mask_rel = f"{MASK_DIR}/train/{label}.{i}.png"
    _write_atomic(root / rel, _encode_jpeg(sample.image))
    _write_atomic(root / mask_rel, _encode_png(sample.mask))
    return {"path": rel, "mask": mask_rel, "label": label, **sample.info}


def _write_copy(root: Path, source: dict[str, Any], stem: str, kind: str) -> dict[str, Any]:
    """Write a copy of the image of entry ``source`` as ``train/<stem>.jpg`` (``.png``: lossless)."""
    data = (root / source["path"]).read_bytes()
    mask = np.asarray(Image.open(root / source["mask"]))
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    extra: dict[str, Any] = {}
    if kind == "reencoded":
        data = _encode_jpeg(pixels, quality=60)
    elif kind == "resized":
        side = max(16, pixels.shape[0] // 2)
        data = _encode_jpeg(np.asarray(Image.fromarray(pixels).resize((side, side), Image.Resampling.BILINEAR)), 85)
        mask = np.asarray(Image.fromarray(mask).resize((side, side), Image.Resampling.NEAREST))
        extra["bbox"] = _bbox(mask == 1)
        if "other_bbox" in source:
            extra["other_bbox"] = _bbox(mask == 2)
    elif kind == "lossless":
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, "PNG")
        data = buf.getvalue()
    elif kind == "recompressed":
        data = _encode_jpeg(pixels, quality=80)
    rel = f"train/{stem}.{'png' if kind == 'lossless' else 'jpg'}"
    mask_rel = f"{MASK_DIR}/train/{stem}.png"
    _write_atomic(root / rel, data)
    _write_atomic(root / mask_rel, _encode_png(mask))
    return {**source, **extra, "path": rel, "mask": mask_rel}


def _all_present(root: Path, meta: dict[str, Any]) -> bool:
    return all((root / e["path"]).is_file() and (root / e["mask"]).is_file()
               for e in meta.get("images", []))


def _info(root: Path, params: dict[str, Any], meta: dict[str, Any], reused: bool) -> SynthInfo:
    cases = {c: 0 for c in CASES}
    n = int(params["n"])
    for e in meta["images"][:n]:
        cases[e["case"]] += 1
    flipped, copies = 0, len(meta["images"]) - n
    truth_path = root / TRUTH_NAME
    if params.get("label_noise") and truth_path.is_file():
        flipped = len(json.loads(truth_path.read_text()).get("flipped", []))
    return SynthInfo(root, n, params["size"], params["seed"], params["hard_fraction"], reused, cases,
                     flipped, copies)
