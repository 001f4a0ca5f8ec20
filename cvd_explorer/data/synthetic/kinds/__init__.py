"""The animal kinds and their registry: one drawing module per kind, in class order.

Every module holds ``parts(rng, coat) -> list[Part]``: the kind facing +x, body centred at the
origin, about 1.5 local units wide, coloured only from ``coat`` (the palette shared by every kind),
so kinds differ only by localized shape evidence (ears, snout, beak, tail, ...). Adding a kind is
adding one module here and its name to :data:`KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cvd_explorer.data.synthetic.draw import Part
from cvd_explorer.data.synthetic.kinds import bear, cat, dog, fox, frog, mouse, owl, rabbit
from cvd_explorer.data.synthetic.kinds._body import Coat

PartsFn = Callable[[np.random.Generator, Coat], list[Part]]

KINDS: tuple[str, ...] = ("cat", "dog", "fox", "rabbit", "owl", "mouse", "bear", "frog")
"""Every kind in class order: ``--classes N`` uses the first N."""
MAX_CLASSES = len(KINDS)

ANIMALS: dict[str, PartsFn] = {
    "cat": cat.parts, "dog": dog.parts, "fox": fox.parts, "rabbit": rabbit.parts,
    "owl": owl.parts, "mouse": mouse.parts, "bear": bear.parts, "frog": frog.parts,
}

cat_parts = cat.parts
dog_parts = dog.parts

__all__ = ["ANIMALS", "KINDS", "MAX_CLASSES", "Coat", "PartsFn", "cat_parts", "dog_parts"]
