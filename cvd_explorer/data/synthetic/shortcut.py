"""A planted shortcut (a "Clever Hans" cue): a small mark that, in training, comes with one class only.

With ``synth --shortcut KIND``, the images of the cue class (the first kind, the cat, unless
``shortcut_class`` says otherwise) carry the mark in every split with share :data:`CLASS_SHARE`;
in the test split the images of every other class carry it too, with share :data:`OTHER_SHARE`.
A model that learns the mark calls those test images the cue class, and its Grad-CAM sits on the mark.

Which split an image falls in is the manifest's business, so the generator writes the manifest
(``manifest.csv``, split seed 0, exactly what ``cvd-explorer split DATA`` would write for these files)
and plants the cue by it; train, Explorer and atlas then use that split. The masks stay those of the
animals: the mark lies outside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvd_explorer.errors import DataError

CUE_KINDS = ("square", "ring", "bars")
PLACES = ("bottom-right", "bottom-left", "top-right", "top-left")
CLASS_SHARE = 0.5
OTHER_SHARE = 0.35
SPLIT_SEED = 0
CUE_COLOUR = (255, 40, 200)  # a magenta no animal, background or person is drawn in


@dataclass(frozen=True)
class ShortcutPlan:
    """Where the cue goes.

    Attributes:
        kind, place, cue_class: the options; split_of: ``{relative path: split}`` of the manifest.
    """

    kind: str
    place: str
    cue_class: str
    split_of: dict[str, str]

    def carries(self, seed: int, path: str, label: str, index: int, kinds: tuple[str, ...]) -> bool:
        """Whether image ``path`` (named class ``label``, number ``index``) gets the mark."""
        share = CLASS_SHARE if label == self.cue_class else OTHER_SHARE if self.split_of[path] == "test" else 0.0
        return bool(np.random.default_rng([seed, 17, kinds.index(label), index]).random() < share)

    def params(self) -> dict[str, Any]:
        """What ``synthetic.json`` records (and compares when a folder is reused)."""
        return {"kind": self.kind, "place": self.place, "class": self.cue_class}


def check_shortcut(kind: str | None, place: str, cue_class: str | None, kinds: tuple[str, ...],
                   duplicates: int) -> None:
    """Raise DataError naming the first bad shortcut option."""
    if kind is None:
        return
    if kind not in CUE_KINDS:
        raise DataError(f"shortcut={kind!r}: use one of {', '.join(CUE_KINDS)}")
    if place not in PLACES:
        raise DataError(f"shortcut place {place!r}: use one of {', '.join(PLACES)}")
    if cue_class is not None and cue_class not in kinds:
        raise DataError(f"shortcut class {cue_class!r} is not drawn: use one of {', '.join(kinds)}")
    if duplicates:
        raise DataError("--shortcut with --duplicates: copies move between splits with their group, so the cue "
                        "could not follow the split; plant one or the other")


def plan_shortcut(root: Path, kind: str, place: str, cue_class: str | None, kinds: tuple[str, ...],
                  paths: list[tuple[str, str]]) -> tuple[ShortcutPlan, Any]:
    """The cue plan and the manifest it follows (a :class:`~cvd_explorer.data.split.Manifest`).

    Args:
        paths: every ``(relative path, named class)`` the generator writes.
    """
    from cvd_explorer.data.scan import ScanResult
    from cvd_explorer.data.split import make_split

    layout = "kaggle" if len(kinds) == 2 else "folders"
    result = ScanResult(root, layout, tuple(sorted(kinds)), accepted=sorted(paths))
    manifest = make_split(result, SPLIT_SEED)
    split_of = {row.path: row.split for row in manifest.rows}
    return ShortcutPlan(kind, place, cue_class or kinds[0], split_of), manifest


def draw_cue(image: np.ndarray, kind: str, place: str, rng: np.random.Generator) -> list[int]:
    """Draw the mark into ``image`` (``(S, S, 3)`` uint8, in place) near the ``place`` corner.

    Returns:
        Its box ``[x0, y0, x1, y1]`` (exclusive ends).
    """
    import cv2

    size = image.shape[0]
    side = max(5, round(size * 0.14))
    margin = max(1, round(size * 0.03))
    jitter = max(1, round(size * 0.03))
    dx, dy = (int(v) for v in rng.integers(0, jitter + 1, 2))
    x0 = margin + dx if place.endswith("left") else size - margin - side - dx
    y0 = margin + dy if place.startswith("top") else size - margin - side - dy
    x1, y1 = x0 + side, y0 + side
    if kind == "square":
        image[y0:y1, x0:x1] = 255
        inner = max(1, side // 6)
        image[y0 + inner:y1 - inner, x0 + inner:x1 - inner] = CUE_COLOUR
    elif kind == "ring":
        centre = (x0 + side // 2, y0 + side // 2)
        cv2.circle(image, centre, side // 2, CUE_COLOUR, max(1, side // 4), lineType=cv2.LINE_AA)
    else:  # bars: three short horizontal bars, like a printed watermark
        # at least 2 px: JPEG's chroma subsampling (2x2) washes the colour out of 1 px bars (at 64 px no
        # pixel of the box stayed magenta; 2 px keep 0.29 of it, as 3 px bars do at 128 px)
        bar = max(2, side // 5)
        step = min(2 * bar, (side - bar) // 2)
        for k in range(3):
            top = y0 + k * step
            image[top:top + bar, x0:x1] = CUE_COLOUR
    return [int(x0), int(y0), int(x1), int(y1)]
