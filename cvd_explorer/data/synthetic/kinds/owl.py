"""The owl: an upright egg-shaped body with folded wings, a round head with two ear tufts, big eyes in
light facial discs, a hooked beak and small clawed feet; no legs, no tail."""

from __future__ import annotations

import numpy as np

from cvd_explorer.data.synthetic.draw import NOSE_DARK, Part, _c, capsule, ellipse
from cvd_explorer.data.synthetic.kinds._body import Coat


def parts(rng: np.random.Generator, coat: Coat) -> list[Part]:
    """Parts of an owl facing the viewer, body centred at the origin, about 0.8 x 1.4 local units."""
    fur, acc, light = _c(coat.fur), _c(coat.accent), _c(coat.light)
    hy, r = -0.5 + rng.uniform(-0.03, 0.03), 0.3
    parts = [capsule((x, 0.3), (x + dx, 0.42), 0.05, NOSE_DARK) for x in (-0.1, 0.1) for dx in (-0.05, 0.05)]
    parts.append(Part("poly", ellipse(0, 0, 0.32, 0.38), fur))
    parts.append(Part("poly", ellipse(0, 0.08, 0.18, 0.26), light, outline=False))  # breast
    for k in range(3):  # chevrons on the breast
        y = -0.06 + 0.12 * k
        parts.append(Part("line", np.array([(-0.07, y), (0, y + 0.04), (0.07, y)]), acc, 0.02, outline=False))
    for side in (-1, 1):  # folded wings
        parts.append(Part("poly", ellipse(side * 0.27, 0.02, 0.12, 0.3, side * -12 + rng.uniform(-6, 6)), acc))
    for side in (-1, 1):  # ear tufts
        tilt = rng.uniform(-0.04, 0.04)
        tuft = np.array([(side * 0.12, hy - 0.7 * r), (side * (0.3 + tilt), hy - 1.45 * r),
                         (side * 0.3, hy - 0.45 * r)])
        parts.append(Part("poly", tuft, fur))
    parts.append(Part("poly", ellipse(0, hy, 1.1 * r, r), fur))
    for side in (-1, 1):  # facial discs and big round eyes
        ex = side * 0.45 * r
        parts.append(Part("poly", ellipse(ex, hy, 0.5 * r, 0.5 * r), light, outline=False))
        parts.append(Part("poly", ellipse(ex, hy, 0.3 * r, 0.3 * r), _c(coat.eye)))
        parts.append(Part("poly", ellipse(ex, hy, 0.15 * r, 0.15 * r), (20, 20, 22), outline=False))
    beak = np.array([(-0.13 * r, hy + 0.25 * r), (0.13 * r, hy + 0.25 * r), (0, hy + 0.75 * r)])
    parts.append(Part("poly", beak, (214, 176, 92)))
    return parts
