"""Deterministic cartoon animals with ground-truth masks, for demos and tests.

The kinds differ only by *localized shape evidence*; colour and background are drawn from
distributions shared by every kind, so a model that learns them learns where the animal is:

* cat: pointed triangular ears, slit pupils, a small round muzzle inside the head outline,
  whiskers, slim legs and a long thin upright tail;
* dog: floppy ears hanging beside a wider head, round pupils, a snout protruding beyond the head
  with a big dark nose, sturdier legs and a short thick wagging tail;
* fox, rabbit, owl, mouse, bear, frog (``classes`` > 2): see their modules in ``kinds/``.

Every scene is drawn at twice the output size with antialiased OpenCV primitives and downsampled
(area interpolation), so edges look like a cartoon, not noise. Hard cases: ``"person"`` (a
stick-and-blob person, taller than the animal, stands next to it), ``"both"`` (the labelled animal
and a smaller one of another kind) and ``"occluded"`` (an opaque box hides 30-60 % of the animal,
head, ears or tail included).

Modules: :mod:`.draw` (primitives, palette), :mod:`.kinds` (one drawing module per kind and the
registry), :mod:`.background`, :mod:`.person`, :mod:`.scene` (the composer: ``render_scene``),
:mod:`.plan` (names, cases, planted flips and copies), :mod:`.writing` (``generate``).
Only numpy, OpenCV and Pillow are used here.
"""

from __future__ import annotations

from pathlib import Path

from cvd_explorer.data.synthetic.constants import (
    CASES,
    COPY_KINDS,
    DEMO_DATA,
    DEMO_PLANTED,
    DEMO_TRAIN,
    GENERATOR_VERSION,
    HARD_CASES,
    JPEG_QUALITY,
    LABELS,
    MASK_DIR,
    META_NAME,
    TRUTH_NAME,
)
from cvd_explorer.data.synthetic.draw import (
    EYE_COLOURS,
    NOSE_DARK,
    PALETTE,
    SKIN_COLOURS,
    Colour,
    Figure,
    Part,
    bezier,
    capsule,
    ellipse,
    paint,
    tapered,
)
from cvd_explorer.data.synthetic.kinds import ANIMALS, KINDS, MAX_CLASSES, Coat, cat_parts, dog_parts
from cvd_explorer.data.synthetic.person import person_parts
from cvd_explorer.data.synthetic.plan import (
    case_of,
    copy_sources,
    flipped_jobs,
    image_path,
    kinds_for,
    mask_path,
    shown_kind,
)
from cvd_explorer.data.synthetic.scene import Sample, render_sample, render_scene
from cvd_explorer.data.synthetic.writing import SynthInfo, generate


def source_text() -> str:
    """The source of every module of this package, in path order: what a cache of data or models drawn by
    the generator keys on (``inspect.getsource`` of the package is its ``__init__`` only)."""
    here = Path(__file__).parent
    return "".join(f"# {p.relative_to(here).as_posix()}\n{p.read_text()}" for p in sorted(here.rglob("*.py")))


__all__ = [
    "ANIMALS", "CASES", "COPY_KINDS", "DEMO_DATA", "DEMO_PLANTED", "DEMO_TRAIN", "EYE_COLOURS",
    "GENERATOR_VERSION", "HARD_CASES", "JPEG_QUALITY", "KINDS", "LABELS", "MASK_DIR", "MAX_CLASSES",
    "META_NAME", "NOSE_DARK", "PALETTE", "SKIN_COLOURS", "TRUTH_NAME", "Coat", "Colour", "Figure", "Part",
    "Sample", "SynthInfo", "bezier", "capsule", "case_of", "cat_parts", "copy_sources", "dog_parts",
    "ellipse", "flipped_jobs", "generate", "image_path", "kinds_for", "mask_path", "paint", "person_parts",
    "render_sample", "render_scene", "shown_kind", "source_text", "tapered",
]
