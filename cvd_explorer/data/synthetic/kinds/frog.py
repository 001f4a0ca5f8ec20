"""The frog: a wide squat body close to the ground, two eyes bulging above the head, a wide mouth line,
folded hind legs with long webbed feet and short front legs; no ears, no tail."""

from __future__ import annotations

import numpy as np

from cvd_explorer.data.synthetic.draw import NOSE_DARK, Part, _c, bezier, capsule, ellipse
from cvd_explorer.data.synthetic.kinds._body import Coat, _pattern


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of a frog facing +x, body centred at the origin, about 1.5 x 0.8 local units."""
    fur, acc, light = _c(coat.fur), _c(coat.accent), _c(coat.light)
    fold = rng.uniform(-0.04, 0.04)
    parts = [Part("poly", ellipse(-0.28, 0.12, 0.3, 0.16, -20 + rng.uniform(-8, 8)), acc)]  # far thigh
    parts.append(Part("poly", np.array([(-0.45, 0.3), (0.0, 0.25 + fold), (0.1, 0.33), (-0.4, 0.36)]), acc))
    parts.append(Part("poly", ellipse(0, 0, 0.5, 0.22, -6), fur))
    parts += _pattern(rng, coat, 0.5, 0.22)
    parts.append(Part("poly", ellipse(-0.32, 0.1, 0.26, 0.15, -25 + rng.uniform(-8, 8)), fur))  # near thigh
    for k in range(3):  # the webbed foot's toes
        toe = (0.05 + 0.06 * k, 0.32 + fold + 0.02 * k)
        parts.append(capsule((-0.3, 0.3 + fold), toe, 0.05, fur))
    for x in (0.25, 0.38):  # short front legs
        parts.append(capsule((x, 0.08), (x + 0.05 + rng.uniform(-0.03, 0.03), 0.32), 0.06, fur))
    hx, hy = 0.48, -0.08
    parts.append(Part("poly", ellipse(hx, hy, 0.22, 0.15), fur))
    for dx in (-0.08, 0.08):  # bulging eyes above the head
        ex, ey = hx + dx, hy - 0.16
        parts.append(Part("poly", ellipse(ex, ey, 0.08, 0.08), fur))
        parts.append(Part("poly", ellipse(ex + 0.01, ey - 0.01, 0.05, 0.05), _c(coat.eye), outline=False))
        parts.append(Part("poly", ellipse(ex + 0.01, ey - 0.01, 0.045, 0.02), (20, 20, 22), outline=False))
    mouth = bezier([(hx - 0.1, hy + 0.05), (hx + 0.1, hy + 0.1), (hx + 0.21, hy + 0.0)], 10)
    parts.append(Part("line", mouth, NOSE_DARK, 0.015, outline=False))
    parts.append(Part("poly", ellipse(0.1, 0.12, 0.28, 0.07), light, outline=False))  # pale belly
    return parts
