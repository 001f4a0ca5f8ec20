"""The fox: tall pointed ears, a long narrow pointed snout with a small dark nose, a big bushy tail held
out behind with a light tip."""

from __future__ import annotations

import math

import numpy as np

from cvd_explorer.data.synthetic.draw import NOSE_DARK, Part, _c, bezier, ellipse, tapered
from cvd_explorer.data.synthetic.kinds._body import Coat, _body, _eyes


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of a fox facing +x, body centred at the origin, about 1.8 x 1.1 local units."""
    fur, acc, light = _c(coat.fur), _c(coat.accent), _c(coat.light)
    hx, hy, r = 0.52 + rng.uniform(-0.03, 0.03), -0.34 + rng.uniform(-0.04, 0.04), 0.22
    sway = rng.uniform(-0.12, 0.12)
    center = bezier([(-0.4, -0.04), (-0.7, -0.12 + sway), (-0.95, 0.02 + sway)], 20)
    parts = [Part("poly", tapered(center, 0.16, 0.2), fur)]
    tip = center[-6:]
    parts.append(Part("poly", tapered(tip, 0.17, 0.2), light, outline=False))
    parts += _body(rng, coat, (0.46, 0.17), 0.07, ((-0.28, 0.3), (-0.18, 0.4)),
                   np.array([(0.2, -0.1), (hx - 0.1, hy), (hx + 0.08, hy + 0.1), (0.42, 0.05)]))
    for a0, a1, apex_deg in ((-160, -105, -125), (-75, -20, -55)):  # tall narrow pointed ears
        t0, t1, ta = (math.radians(a) for a in (a0, a1, apex_deg + rng.uniform(-5, 5)))
        reach = rng.uniform(2.3, 2.6) * r
        ear = np.array([(hx + 0.95 * r * math.cos(t0), hy + 0.95 * r * math.sin(t0)),
                        (hx + reach * math.cos(ta), hy + reach * math.sin(ta)),
                        (hx + 0.95 * r * math.cos(t1), hy + 0.95 * r * math.sin(t1))])
        parts.append(Part("poly", ear, fur))
        parts.append(Part("poly", ear * 0.55 + ear.mean(axis=0) * 0.45, acc, outline=False))
    parts.append(Part("poly", ellipse(hx, hy, r, r), fur))
    length = rng.uniform(1.5, 1.75) * r  # the long pointed snout
    snout = np.array([(hx + 0.5 * r, hy - 0.2 * r), (hx + 0.5 * r + length, hy + 0.45 * r),
                      (hx + 0.3 * r, hy + 0.8 * r)])
    parts.append(Part("poly", snout, light))
    parts.append(Part("poly", ellipse(hx + 0.45 * r + length, hy + 0.43 * r, 0.13 * r, 0.11 * r), NOSE_DARK,
                      outline=False))
    parts += _eyes(hx - 0.1 * r, hy - 0.05 * r, r, coat, slit=False)
    return parts
