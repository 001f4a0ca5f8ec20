"""The person of the ``"person"`` hard case."""

from __future__ import annotations

import math

import numpy as np

from cvd_explorer.data.synthetic.draw import PALETTE, SKIN_COLOURS, Colour, Part, _c, _pick, capsule, ellipse


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

