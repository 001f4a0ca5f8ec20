"""The dog: floppy ears beside a wider head, round pupils, a protruding snout with a big dark nose, a short
thick wagging tail."""

from __future__ import annotations

import math

import numpy as np

from cvd_explorer.data.synthetic.draw import NOSE_DARK, Part, _c, bezier, ellipse, tapered
from cvd_explorer.data.synthetic.kinds._body import Coat, _body, _eyes


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
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

