"""What a synthetic output holds before anything is drawn: the kinds, every file's name and case, the
planted label flips and copies. All of it follows from the parameters alone (seeded, no state)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvd_explorer.data.synthetic.constants import GENERATOR_VERSION, HARD_CASES, MASK_DIR
from cvd_explorer.data.synthetic.kinds import KINDS, MAX_CLASSES
from cvd_explorer.errors import DataError


def kinds_for(classes: int) -> tuple[str, ...]:
    """The first ``classes`` kinds of :data:`KINDS` (2: ``("cat", "dog")``).

    Raises:
        DataError: ``classes`` is not in 2..MAX_CLASSES (the message names the value).
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or not 2 <= classes <= MAX_CLASSES:
        raise DataError(f"classes={classes!r}: use 2..{MAX_CLASSES} kinds ({', '.join(KINDS)}, in this order)")
    return KINDS[:classes]


def image_path(kinds: tuple[str, ...], label: str, index: int | str, ext: str = "jpg") -> str:
    """Relative path of image ``<label>.<index>``: ``train/<label>.<index>.<ext>`` (Kaggle's flat layout)
    for two kinds, ``<label>/<label>.<index>.<ext>`` (a folder per class) for more."""
    folder = "train" if len(kinds) == 2 else label
    return f"{folder}/{label}.{index}.{ext}"


def mask_path(image_rel: str) -> str:
    """Relative path of the mask of the image at ``image_rel``: ``_masks/<image_rel with .png>``."""
    return f"{MASK_DIR}/{image_rel.rsplit('.', 1)[0]}.png"


def jobs(n: int, kinds: tuple[str, ...]) -> list[tuple[str, int]]:
    """Every ``(label, index)`` image in writing order: index by index, the kinds in turn."""
    return [(label, i) for i in range(n // len(kinds)) for label in kinds]


def case_of(seed: int, label: str, index: int, hard_fraction: float) -> str:
    """The case of image ``<label>.<index>``: deterministic, the same whatever ``n`` is.

    Within each class, image i is hard when ``floor((i + 1) h + phi) > floor(i h + phi)`` for a
    seed-dependent phase phi in [0, 1): the first m images of a class hold floor(m h + phi) hard
    ones (m h of them when m h is whole), spread evenly; hard kinds take turns.
    """
    c = KINDS.index(label)
    phi = np.random.default_rng([seed, 7, c]).random()
    before = math.floor(index * hard_fraction + phi)
    if math.floor((index + 1) * hard_fraction + phi) == before:
        return "normal"
    return HARD_CASES[(before + c + seed) % len(HARD_CASES)]


def flipped_jobs(n: int, seed: int, label_noise: float, classes: int = 2) -> set[tuple[str, int]]:
    """The ``(label, index)`` files that show another class: ``round(n * label_noise)`` of them."""
    count = int(np.floor(n * label_noise + 0.5))
    todo = jobs(n, kinds_for(classes))
    chosen = np.random.default_rng([seed, 11]).choice(len(todo), size=count, replace=False)
    return {todo[int(k)] for k in chosen}


def shown_kind(seed: int, label: str, index: int, kinds: tuple[str, ...]) -> str:
    """The kind drawn in the flipped file ``<label>.<index>``: the other one of two kinds; of more, one
    of the others chosen by ``[seed, 12, class, index]``."""
    c = kinds.index(label)
    if len(kinds) == 2:
        return kinds[1 - c]
    step = 1 + int(np.random.default_rng([seed, 12, c, index]).integers(len(kinds) - 1))
    return kinds[(c + step) % len(kinds)]


def copy_sources(n: int, seed: int, duplicates: int, classes: int = 2) -> list[tuple[str, int]]:
    """The ``(label, index)`` files copied, in order (copy k is of kind ``COPY_KINDS[k % 5]``)."""
    todo = jobs(n, kinds_for(classes))
    chosen = np.random.default_rng([seed, 13]).choice(len(todo), size=duplicates, replace=False)
    return [todo[int(k)] for k in chosen]


def params_of(n: int, size: int, seed: int, hard_fraction: float, label_noise: float = 0.0,
              duplicates: int = 0, classes: int = 2) -> dict[str, Any]:
    """The parameters recorded in ``synthetic.json`` (and compared when a folder is reused)."""
    params: dict[str, Any] = {"generator": "cvd_explorer.data.synthetic", "version": GENERATOR_VERSION,
                              "seed": seed, "n": n, "size": size, "hard_fraction": hard_fraction}
    if classes != 2:  # only when asked: the binary output stays byte-identical
        params["classes"] = list(kinds_for(classes))
    if label_noise or duplicates:
        params.update(label_noise=label_noise, duplicates=duplicates)
    return params


def check_args(n: int, size: int, seed: int, hard_fraction: float, classes: int = 2) -> None:
    """Raise DataError naming the first bad parameter."""
    k = len(kinds_for(classes))
    if k == 2 and (n < 2 or n % 2):
        raise DataError(f"n={n}: use an even number of images of at least 2 (n/2 per class)")
    if n < k or n % k:
        raise DataError(f"n={n}: use a multiple of the {k} classes, at least {k} (n/{k} per class)")
    if not 16 <= size <= 2048:
        raise DataError(f"size={size} is out of range: use 16..2048 pixels")
    if seed < 0:
        raise DataError(f"seed={seed}: use a non-negative integer")
    if not 0.0 <= hard_fraction <= 1.0:
        raise DataError(f"hard_fraction={hard_fraction}: use a share between 0 and 1")


def check_noise(n: int, label_noise: float, duplicates: int) -> None:
    """Raise DataError when ``label_noise`` or ``duplicates`` is out of range."""
    if not 0.0 <= label_noise <= 0.5:
        raise DataError(f"label_noise={label_noise}: use a share between 0 and 0.5")
    if not 0 <= duplicates <= n:
        raise DataError(f"duplicates={duplicates}: use 0..n ({n}) copies")


__all__ = ["case_of", "check_args", "check_noise", "copy_sources", "flipped_jobs", "image_path",
           "jobs", "kinds_for", "mask_path", "params_of", "shown_kind"]
