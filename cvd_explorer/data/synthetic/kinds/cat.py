"""The cat: pointed triangular ears, slit pupils, a small round muzzle, whiskers, a long thin upright tail."""

from __future__ import annotations

import math

import numpy as np

from cvd_explorer.data.synthetic.draw import Part, _c, bezier, ellipse, tapered
from cvd_explorer.data.synthetic.kinds._body import Coat, _body, _eyes


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
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

