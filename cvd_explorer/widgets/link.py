"""The state that links the Atlas's views (and, through the Atlas, the Explorer): one small
``traitlets.HasTraits`` object, the way jupyter-scatter's ``compose`` links scatter plots through
their shared state rather than through each other's widgets.

A view observes the traits it follows and sets the ones it changes; it never reaches into
another view's widgets. When a view writes back what it just received (or writes into a widget
whose observer would echo the value to the link), it mutes its own observer for that one
assignment with :func:`unobserved` (compose's unobserve, set, re-observe), so that no change
goes round in a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import traitlets


@dataclass(frozen=True, eq=False)
class Selection:
    """The images selected in the Atlas. Compared by identity: every assignment of a new
    ``Selection`` to the link is a new request (the same keys again re-apply it, e.g. the gallery
    goes back to the triage's order).

    Attributes:
        keys: sample keys (absolute image paths, as in the Explorer), without repeats, in the
            order the gallery shows them when it follows the selection's order.
        ordered: the order of ``keys`` is the point (a triage sorted by label-issue score): the
            gallery follows it instead of its own sort.
    """

    keys: tuple[str, ...] = ()
    ordered: bool = False


class AtlasLink(traitlets.HasTraits):
    """The shared state of the Atlas's views.

    Traits:
        sample: key of the image the Explorer shows (None before one is shown).
        layer: the conv layer in focus (the Explorer's layer slider, the depth curves' marker).
        selection: the :class:`Selection` (empty: nothing selected, the gallery shows every image).
    """

    sample = traitlets.Unicode(None, allow_none=True)
    layer = traitlets.Unicode(None, allow_none=True)
    selection = traitlets.Instance(Selection, args=())


@contextmanager
def unobserved(owner: Any, handler: Callable[[dict[str, Any]], None], name: str) -> Iterator[None]:
    """Within the block, ``handler`` does not hear changes of ``owner.<name>`` (a traitlets object:
    the link or a widget); it listens again afterwards, also after an exception."""
    owner.unobserve(handler, name)
    try:
        yield
    finally:
        owner.observe(handler, name)
