"""The mouse: big round ears on a small head, a pointed nose with whiskers, a low teardrop body on short
legs and a very long thin tail curving along the ground."""

from __future__ import annotations

import numpy as np

from cvd_explorer.data.synthetic.draw import Part, _c, bezier, ellipse, tapered
from cvd_explorer.data.synthetic.kinds._body import Coat, _body, _eyes


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of a mouse facing +x, body centred at the origin, about 1.9 x 0.9 local units."""
    fur, acc = _c(coat.fur), _c(coat.accent)
    hx, hy, r = 0.5 + rng.uniform(-0.02, 0.02), -0.12 + rng.uniform(-0.03, 0.03), 0.2
    wave = rng.uniform(-0.12, 0.12)
    tail = bezier([(-0.42, 0.02), (-0.8, 0.3 + wave), (-1.0, -0.1 - wave), (-1.3, 0.12)], 28)
    parts = [Part("poly", tapered(tail, 0.04, 0.018), acc)]
    parts += _body(rng, coat, (0.46, 0.22), 0.06, ((-0.26, 0.22), (-0.16, 0.32)),
                   np.array([(0.25, -0.12), (hx - 0.1, hy - 0.08), (hx + 0.05, hy + 0.12), (0.4, 0.12)]))
    for dx in (-0.55, 0.25):  # big round ears
        ex, ey = hx + dx * r, hy - 1.05 * r
        parts.append(Part("poly", ellipse(ex, ey, 0.7 * r, 0.7 * r), fur))
        parts.append(Part("poly", ellipse(ex, ey + 0.05 * r, 0.45 * r, 0.45 * r), (210, 140, 150), outline=False))
    head = np.concatenate([ellipse(hx, hy, r, 0.9 * r, n=40)[10:31],
                           np.array([(hx + 2.1 * r, hy + 0.35 * r)])])  # tapering to a pointed nose
    parts.append(Part("poly", head, fur))
    parts.append(Part("poly", ellipse(hx + 2.05 * r, hy + 0.33 * r, 0.14 * r, 0.12 * r), (200, 110, 120),
                      outline=False))
    parts += _eyes(hx + 0.3 * r, hy, 0.8 * r, coat, slit=False)
    for dy in (-0.08, 0.08):
        p0 = (hx + 1.7 * r, hy + 0.35 * r)
        parts.append(Part("line", np.array([p0, (hx + 2.6 * r, hy + (0.35 + 2 * dy) * r)]), coat.whisker,
                          0.01, outline=False))
    return parts
