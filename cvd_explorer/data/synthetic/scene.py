"""The scene composer: background, clutter, the animals' layout, a person or an occluder, the mask.

Random draws shared by every kind (background, colours, pose, position) come from the scene
generator; the draws that shape the animal come from a child generator spawned at a fixed point, so
``render_scene(s, "cat")`` and ``render_scene(s, "dog")`` show the same colours and background and
differ only where the animal's shape differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec

import cv2
import numpy as np

from cvd_explorer.data.synthetic.background import _background, _distractors
from cvd_explorer.data.synthetic.constants import CASES, LABELS
from cvd_explorer.data.synthetic.draw import _ONE, _SHIFT, _SS, PALETTE, Figure, _c, _fixed, _pick, paint
from cvd_explorer.data.synthetic.kinds import ANIMALS, KINDS, Coat
from cvd_explorer.data.synthetic.person import person_parts
from cvd_explorer.errors import DataError

_P = ParamSpec("_P")


def _rng(rng_or_seed: np.random.Generator | int | Sequence[int]) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


def _animal(rng: np.random.Generator, label: str, size_frac: float, side: int) -> Figure:
    """An animal figure with coat and pose from ``rng``; shape draws from a spawned child."""
    shape_rng = np.random.default_rng(rng.integers(2**63))
    coat = Coat.sample(rng)
    fig = Figure(ANIMALS[label](shape_rng, coat), coat.outline, 0.022)
    fig.angle = rng.uniform(-14, 14)
    fig.flip = int(rng.choice([-1, 1]))
    x0, y0, x1, y1 = fig.bbox()
    fig.scale = size_frac * side / max(x1 - x0, y1 - y0)
    return fig


def _layout(rng: np.random.Generator, figs: list[Figure], side: int, ground: bool) -> None:
    """Place figures side by side (random order), inside the canvas, on a common ground line."""
    order = list(rng.permutation(len(figs)))
    margin = 0.02 * side
    boxes = [f.bbox() for f in figs]
    widths = [b[2] - b[0] for b in boxes]
    heights = [b[3] - b[1] for b in boxes]
    room = side - 2 * margin
    shrink = min(1.0, room / (sum(widths) + margin * (len(figs) - 1)), room / max(heights))
    for f in figs:
        f.scale *= shrink
    boxes = [f.bbox() for f in figs]
    widths = [b[2] - b[0] for b in boxes]
    heights = [b[3] - b[1] for b in boxes]
    free = room - sum(widths) - margin * (len(figs) - 1)
    gaps = rng.dirichlet(np.ones(len(figs) + 1)) * free
    base = margin + rng.uniform(0, 1) * (room - max(heights)) + max(heights)
    x = margin
    for k, i in enumerate(order):
        x += gaps[k]
        b = boxes[i]
        bottom = base if ground else margin + heights[i] + rng.uniform(0, 1) * (room - heights[i])
        f = figs[i]
        f.offset = (f.offset[0] + x - b[0], f.offset[1] + bottom - b[3])
        x += widths[i] + margin


def _occluder(rng: np.random.Generator, idmap: np.ndarray, flip: int) -> np.ndarray:
    """Axis-aligned box ``(x0, y0, x1, y1)`` hiding 35-60 % of the animal (id 1) from one side.

    The side is the head side, the tail side or the top (ears), so distinctive parts are hidden.
    """
    side = rng.choice(["front", "back", "top"])
    target = rng.uniform(0.33, 0.5)
    ys, xs = np.nonzero(idmap == 1)
    pad = 0.03 * idmap.shape[0] + rng.uniform(0, 0.04) * idmap.shape[0]
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    from_right = (side == "front") == (flip == 1)
    if side == "top":
        counts = np.bincount(ys - y0, minlength=y1 - y0)
        cut = y0 + int(np.searchsorted(np.cumsum(counts) / len(ys), target))
        return np.array([x0 - pad, y0 - pad, x1 + pad, cut])
    counts = np.bincount(xs - x0, minlength=x1 - x0)
    if from_right:
        cut = x1 - int(np.searchsorted(np.cumsum(counts[::-1]) / len(xs), target))
        return np.array([cut, y0 - pad, x1 + pad, y1 + pad])
    cut = x0 + int(np.searchsorted(np.cumsum(counts) / len(xs), target))
    return np.array([x0 - pad, y0 - pad, cut, y1 + pad])


def _draw_box(rng: np.random.Generator, canvas: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Draw an opaque crate filling exactly ``box`` (snapped to whole output pixels).

    Returns:
        The snapped box ``(x0, y0, x1, y1)`` in canvas pixels, int, exclusive ends: every output
        pixel is either fully hidden or not hidden at all, so the mask stays exact.
    """
    side = canvas.shape[0]
    snapped: np.ndarray = np.clip(np.round(np.asarray(box, dtype=np.float64) / _SS).astype(int) * _SS, 0, side)
    x0, y0, x1, y1 = (int(v) for v in snapped)
    col = _pick(rng, PALETTE)
    canvas[y0:y1, x0:x1] = _c(col)
    for k in range(1, 4):  # planks, so it reads as a crate
        y = y0 + (y1 - y0) * k / 4
        cv2.line(canvas, (int((x0 + 3) * _ONE), int(y * _ONE)), (int((x1 - 4) * _ONE), int(y * _ONE)),
                 _c(col * 0.7), 2, cv2.LINE_AA, _SHIFT)
    inset = np.array([(x0 + 1.5, y0 + 1.5), (x1 - 2.5, y0 + 1.5), (x1 - 2.5, y1 - 2.5),
                      (x0 + 1.5, y1 - 2.5)])  # a 3 px outline drawn inside the box
    cv2.polylines(canvas, [_fixed(inset)], True, _c(col * 0.35), 3, cv2.LINE_AA, _SHIFT)
    return snapped


@dataclass
class Sample:
    """A rendered scene.

    Attributes:
        image: (size, size, 3) uint8 RGB.
        mask: (size, size) uint8; 0 background, 1 labelled animal, 2 the other animal.
        info: case, bounding box ``[x0, y0, x1, y1]`` (exclusive ends) of mask 1, and for
            ``"occluded"`` the hidden share of the animal.
    """

    image: np.ndarray
    mask: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def render_scene(
    rng_or_seed: np.random.Generator | int | Sequence[int],
    label: str,
    size: int = 128,
    case: str = "normal",
    *,
    draw_animal: bool = True,
    classes: Sequence[str] | None = None,
) -> Sample:
    """Render one cartoon scene and its ground-truth mask, in memory.

    Args:
        rng_or_seed: a numpy ``Generator`` (consumed) or a seed for ``np.random.default_rng``.
        label: a kind of :data:`KINDS` (``"cat"``, ``"dog"``, ...), the labelled (for ``"both"``: the
            larger) animal.
        size: side of the square output in pixels.
        case: ``"normal"``, ``"person"``, ``"both"`` or ``"occluded"``.
        draw_animal: False leaves the animals out and keeps everything else identical
            (background, distractors, person, occluder), so the mask can be checked against it;
            the mask returned is the same as with True.
        classes: the kinds of the data set (``label`` among them); the other animal of ``"both"`` is
            one of them. Default: cat and dog when ``label`` is one of them, else every kind.

    Returns:
        A :class:`Sample`: image (size, size, 3) uint8 RGB; mask (size, size) uint8 with 0 for
        background, 1 for every visible pixel of the labelled animal (ears, tail, whiskers
        included; pixels hidden by an occluder are 0) and 2 for the other animal in ``"both"``;
        info with the case and bounding boxes (and, for ``"both"`` among more than two kinds, the
        ``"other"`` kind).
    """
    if label not in KINDS:
        raise DataError(f"label {label!r} is not one of {KINDS}")
    others = _other_kinds(label, classes)
    if case not in CASES:
        raise DataError(f"case {case!r} is not one of {CASES}")
    if not 16 <= size <= 2048:
        raise DataError(f"size {size} is out of range: use 16..2048 pixels")
    rng = _rng(rng_or_seed)
    side = size * _SS
    canvas = _background(rng, side)
    _distractors(rng, canvas)

    span = {"normal": (0.45, 0.8), "occluded": (0.55, 0.75)}.get(case, (0.4, 0.55))
    frac = float(rng.uniform(*span))
    main = _animal(rng, label, frac, side)
    figs, ids = [main], [1]
    person = None
    if case == "both":
        # one other kind: with two kinds no draw, so the binary output keeps its random stream
        other_label = others[0] if len(others) == 1 else others[int(rng.integers(len(others)))]
        figs.append(_animal(rng, other_label, frac * rng.uniform(0.55, 0.75), side))
        ids.append(2)
    elif case == "person":
        parts, outline = person_parts(rng)
        person = Figure(parts, outline, 0.012, angle=rng.uniform(-4, 4))
        x0, y0, x1, y1 = main.bbox()
        person.scale = (y1 - y0) * rng.uniform(1.15, 1.6)
    _layout(rng, figs + ([person] if person else []), side, ground=case == "person")

    if person is not None:
        paint(canvas, person)
    idmap = np.zeros((side, side), np.uint8)
    scratch = canvas if draw_animal else canvas.copy()
    for fig, value in zip(figs, ids, strict=True):
        paint(scratch, fig, idmap, value)

    info: dict[str, Any] = {"case": case}
    if case == "occluded":
        full = _downsampled_mask(idmap, size)
        box = _occluder(rng, idmap, main.flip)
        bx0, by0, bx1, by1 = _draw_box(rng, canvas, box)
        idmap[by0:by1, bx0:bx1] = 0
    image = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    mask = _downsampled_mask(idmap, size)
    if case == "occluded":
        info["occluded_fraction"] = round(1 - (mask == 1).sum() / max(1, (full == 1).sum()), 3)
    info["bbox"] = _bbox(mask == 1)
    if case == "both":
        info["other_bbox"] = _bbox(mask == 2)
        if len(others) > 1:  # more than two kinds: which one (two kinds: the other one, not recorded)
            info["other"] = other_label
    return Sample(image, mask, info)


def _other_kinds(label: str, classes: Sequence[str] | None) -> list[str]:
    """The kinds the other animal of a ``"both"`` scene is drawn from (``label`` left out)."""
    if classes is None:
        classes = LABELS if label in LABELS else KINDS
    if label not in classes or len(classes) < 2 or any(k not in KINDS for k in classes):
        raise DataError(f"classes {tuple(classes)!r}: use two or more kinds of {KINDS} that include {label!r}")
    return [k for k in classes if k != label]


def _image_and_mask(render: Callable[_P, Sample]) -> Callable[_P, tuple[np.ndarray, np.ndarray]]:
    """``render`` with its arguments, returning ``(image, mask)`` of the :class:`Sample` it renders."""

    def render_sample(*args: _P.args, **kwargs: _P.kwargs) -> tuple[np.ndarray, np.ndarray]:
        sample = render(*args, **kwargs)
        return sample.image, sample.mask

    render_sample.__doc__ = f"""{render.__name__}(...) as ``(image, mask)``: the same arguments, without the info.

    ``render_sample(s, "cat", 64, "occluded")`` is ``(scene.image, scene.mask)`` of
    ``scene = {render.__name__}(s, "cat", 64, "occluded")``.
    """
    # help() and inspect show render's arguments and this return type
    render_sample.__signature__ = inspect.signature(render).replace(  # type: ignore[attr-defined]
        return_annotation="tuple[np.ndarray, np.ndarray]")
    return render_sample


render_sample = _image_and_mask(render_scene)


def _downsampled_mask(idmap: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8 labels: the id covering the most of each pixel if it covers >= 30 %."""
    cover = [cv2.resize((idmap == v).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
             for v in (1, 2)]
    stack = np.stack(cover)
    best = stack.argmax(axis=0)
    return np.where(stack.max(axis=0) >= 0.3, best + 1, 0).astype(np.uint8)


def _bbox(m: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]

