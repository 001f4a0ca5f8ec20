"""The four kinds of ``synth --classes 4`` (cat, dog, fox, rabbit) are told apart by the animal's shape.

A cheap check, no network: gradient-orientation histograms (4 x 4 cells, 8 orientations) of the
grey image cropped to the animal's bounding box, and a logistic regression trained on 3/4 of the scenes.
On the held-out scenes it scores far above chance; on the same scenes rendered without the animal
(``draw_animal=False``: background, clutter and crop kept) it is near chance, so backgrounds and
colours (drawn from one palette for every kind) carry no class cue. Measured (64 px, 80 scenes per
kind): 0.94 with the animals, 0.28 without (chance 0.25).
"""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression

from cvd_explorer.data.synthetic import KINDS, render_scene

PER_KIND = 80
SIZE = 64
CROP = 32
CELLS = 4
BINS = 8


def _orientation_histograms(image: np.ndarray, bbox: list[int]) -> np.ndarray:
    """(CELLS * CELLS * BINS,) float features of the grey ``image`` (S, S, 3) cropped square to ``bbox``."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    x0, y0, x1, y1 = bbox
    side, cx, cy = max(x1 - x0, y1 - y0), (x0 + x1) / 2, (y0 + y1) / 2
    warp = np.float32([[CROP / side, 0, CROP / 2 - cx * CROP / side], [0, CROP / side, CROP / 2 - cy * CROP / side]])
    crop = cv2.warpAffine(grey, warp, (CROP, CROP), borderMode=cv2.BORDER_REPLICATE)
    gx, gy = cv2.Sobel(crop, cv2.CV_32F, 1, 0), cv2.Sobel(crop, cv2.CV_32F, 0, 1)
    magnitude = np.hypot(gx, gy)
    bins = np.minimum(((np.arctan2(gy, gx) % np.pi) / np.pi * BINS).astype(int), BINS - 1)
    cell = CROP // CELLS
    hist = np.zeros((CELLS, CELLS, BINS))
    for i in range(CELLS):
        for j in range(CELLS):
            window = (slice(i * cell, (i + 1) * cell), slice(j * cell, (j + 1) * cell))
            hist[i, j] = np.bincount(bins[window].ravel(), magnitude[window].ravel(), BINS)
    return (hist / (np.linalg.norm(hist, axis=2, keepdims=True) + 1e-6)).ravel()


def test_four_kinds_are_separable_by_shape_not_by_background():
    kinds = KINDS[:4]
    assert kinds == ("cat", "dog", "fox", "rabbit")
    seeds = [(i, c) for i in range(PER_KIND) for c in range(len(kinds))]
    scenes = [render_scene([2, c, i], kinds[c], SIZE, "normal", classes=kinds) for i, c in seeds]
    features = np.stack([_orientation_histograms(s.image, s.info["bbox"]) for s in scenes])
    labels = np.array([c for _, c in seeds])
    cut = len(seeds) * 3 // 4
    model = LogisticRegression(max_iter=500).fit(features[:cut], labels[:cut])
    accuracy = model.score(features[cut:], labels[cut:])

    empty = np.stack([
        _orientation_histograms(render_scene([2, c, i], kinds[c], SIZE, "normal", classes=kinds,
                                             draw_animal=False).image, scene.info["bbox"])
        for (i, c), scene in zip(seeds[cut:], scenes[cut:], strict=True)
    ])
    empty_accuracy = model.score(empty, labels[cut:])
    print(f"\nheld-out accuracy {accuracy:.3f} with the animals, {empty_accuracy:.3f} without (chance 0.25)")
    assert accuracy >= 0.8
    assert empty_accuracy <= 0.45
