"""What every kind shares: a coat drawn from the shared palette, legs, coat pattern, eyes and body."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cvd_explorer.data.synthetic.draw import EYE_COLOURS, PALETTE, Colour, Part, _c, _pick, capsule, ellipse


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

