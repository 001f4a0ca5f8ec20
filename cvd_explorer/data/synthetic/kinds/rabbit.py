"""The rabbit: two very long upright ears, a round head without snout, a small pink nose, big hind feet
and a round light pom-pom tail."""

from __future__ import annotations

import numpy as np

from cvd_explorer.data.synthetic.draw import Part, _c, ellipse
from cvd_explorer.data.synthetic.kinds._body import Coat, _body, _eyes


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of a rabbit facing +x, body centred at the origin, about 1.3 x 1.5 local units."""
    fur, acc, light = _c(coat.fur), _c(coat.accent), _c(coat.light)
    hx, hy, r = 0.42 + rng.uniform(-0.03, 0.03), -0.3 + rng.uniform(-0.04, 0.04), 0.23
    parts = [Part("poly", ellipse(-0.46, -0.08, 0.13, 0.13), light)]  # pom-pom tail
    parts += _body(rng, coat, (0.42, 0.26), 0.09, ((-0.22, 0.26), (-0.12, 0.34)),
                   np.array([(0.15, -0.15), (hx - 0.12, hy), (hx + 0.1, hy + 0.12), (0.38, 0.1)]))
    parts.append(Part("poly", ellipse(-0.2, 0.42, 0.22, 0.07), fur))  # big hind foot
    for dx, lean in ((-0.35, -14.0), (0.25, 6.0)):  # long upright ears
        length = rng.uniform(1.6, 1.9) * r
        lean += rng.uniform(-8, 8)
        cx, cy = hx + dx * r, hy - 0.55 * r - length
        parts.append(Part("poly", ellipse(cx, cy, 0.26 * r, length, lean), fur))
        parts.append(Part("poly", ellipse(cx, cy + 0.05 * r, 0.12 * r, 0.8 * length, lean), acc,
                          outline=False))
    parts.append(Part("poly", ellipse(hx, hy, 1.05 * r, r), fur))
    parts += _eyes(hx, hy, r, coat, slit=False)
    parts.append(Part("poly", ellipse(hx + 0.95 * r, hy + 0.3 * r, 0.12 * r, 0.09 * r), (210, 120, 130),
                      outline=False))
    parts.append(Part("poly", ellipse(hx + 0.75 * r, hy + 0.55 * r, 0.22 * r, 0.16 * r), light, outline=False))
    return parts
