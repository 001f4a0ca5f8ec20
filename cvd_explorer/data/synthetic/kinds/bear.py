"""The bear: a bulky body on thick pillar legs, a big head with small round ears on top, a short light
muzzle with a big dark nose, and no visible tail."""

from __future__ import annotations

import numpy as np

from cvd_explorer.data.synthetic.draw import NOSE_DARK, Part, _c, ellipse
from cvd_explorer.data.synthetic.kinds._body import Coat, _body, _eyes


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of a bear facing +x, body centred at the origin, about 1.5 x 1.1 local units."""
    fur, acc, light = _c(coat.fur), _c(coat.accent), _c(coat.light)
    hx, hy, r = 0.5 + rng.uniform(-0.03, 0.03), -0.3 + rng.uniform(-0.04, 0.04), 0.27
    parts = _body(rng, coat, (0.52, 0.3), 0.17, ((-0.3, 0.26), (-0.2, 0.36)),
                  np.array([(0.2, -0.22), (hx - 0.14, hy - 0.05), (hx + 0.1, hy + 0.14), (0.42, 0.1)]))
    for dx in (-0.6, 0.35):  # small round ears on top
        ex, ey = hx + dx * r, hy - 0.85 * r + rng.uniform(-0.02, 0.02)
        parts.append(Part("poly", ellipse(ex, ey, 0.32 * r, 0.32 * r), fur))
        parts.append(Part("poly", ellipse(ex, ey, 0.16 * r, 0.16 * r), acc, outline=False))
    parts.append(Part("poly", ellipse(hx, hy, 1.05 * r, r), fur))
    parts += _eyes(hx - 0.15 * r, hy - 0.1 * r, 0.8 * r, coat, slit=False)
    mx, my = hx + 0.75 * r, hy + 0.35 * r  # short muzzle, just beyond the head
    parts.append(Part("poly", ellipse(mx, my, 0.5 * r, 0.38 * r), light))
    parts.append(Part("poly", ellipse(mx + 0.3 * r, my - 0.15 * r, 0.2 * r, 0.15 * r), NOSE_DARK, outline=False))
    return parts
