"""Finding a planted shortcut (tests/unit/shortcut_fixture.py): the marked dogs of the test split, which
the model calls cats, form one of the first slices; similar images of one of them are marked images;
Grad-CAM for the wrong class sits on the mark.

Measured on two trainings (a square at the bottom right, 2,000 images; a ring at the top left, 1,200):
the first slice was the marked dogs (share 1.0, 19 of 27 and 32 of 32 of the misclassified marked dogs),
the 10 nearest images of a misclassified marked dog had a median share of 1.0 marked images, and the
best layer's Grad-CAM peak fell on the mark for 0.69 and 0.78 of them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.unit.demo_fixture import copy_run
from tests.unit.shortcut_fixture import cue_boxes, shortcut_run

pytestmark = pytest.mark.slow

MIN_CUE_SHARE = 0.8  # of the slice's images that carry the cue
MIN_COVERAGE = 0.6  # of the misclassified marked images, inside the slice
MIN_SIMILAR_CUE = 0.7  # median share of marked images among the 10 nearest of a misclassified marked one
MIN_CAM_HITS = 0.5  # misclassified marked images whose Grad-CAM peak is on the mark, at the best layer


@pytest.fixture(scope="module")
def hans(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from cvd_explorer.atlas import compute_atlas

    run = copy_run(shortcut_run(), tmp_path_factory.mktemp("hans") / "run")
    atlas = compute_atlas(run)
    boxes = cue_boxes(run)
    wrong_marked = [r.path for r in atlas.rows if r.path in boxes and not r.correct]
    assert len(wrong_marked) >= 8, "the model should fail on marked dogs"
    return run, atlas, boxes, wrong_marked


@pytest.mark.timeout(1800)
def test_the_shortcut_is_one_of_the_first_three_slices(hans) -> None:  # type: ignore[no-untyped-def]
    _, atlas, boxes, wrong_marked = hans
    slices = atlas.summary["slices"]
    json.dumps(slices, allow_nan=False)
    found = [s for s in slices[:3] if np.mean([p in boxes for p in s["paths"]]) >= MIN_CUE_SHARE
             and len(set(s["paths"]) & set(wrong_marked)) >= MIN_COVERAGE * len(wrong_marked)]
    assert found, [(s["size"], s["error_rate"], np.mean([p in boxes for p in s["paths"]])) for s in slices[:3]]
    first = found[0]
    assert first["interval"][0] <= first["error_rate"] <= first["interval"][1]
    assert first["error_rate"] > first["overall_error_rate"] and first["q_value"] < 0.01


def test_images_similar_to_a_marked_one_are_marked(hans) -> None:  # type: ignore[no-untyped-def]
    _, atlas, boxes, wrong_marked = hans
    shares = [np.mean([p in boxes for p, _ in atlas.similar(path, k=10)]) for path in wrong_marked]
    assert np.median(shares) >= MIN_SIMILAR_CUE, shares


def test_grad_cam_for_the_wrong_class_peaks_on_the_mark(hans) -> None:  # type: ignore[no-untyped-def]
    from cvd_explorer.explain.engine import compute_cams
    from cvd_explorer.runs import Run

    run_dir, _, boxes, wrong_marked = hans
    run = Run(run_dir)
    size = run.config.image_size
    images = [Image.open(run.data_root / p).convert("RGB") for p in wrong_marked]
    x = np.stack([np.asarray(im.resize((size, size)), np.float32) for im in images])
    cams = compute_cams(run.load_model(), x, None, "gradcam", "predicted", classes=run.classes)
    hits = np.zeros((len(wrong_marked), len(cams)), bool)
    for j, maps in enumerate(cams.values()):
        for i, (path, image) in enumerate(zip(wrong_marked, images, strict=True)):
            scale = size / image.size[0]
            x0, y0, x1, y1 = (v * scale for v in boxes[path])
            py, px = np.unravel_index(np.argmax(maps[i]), maps[i].shape)
            hits[i, j] = x0 - 2 <= px < x1 + 2 and y0 - 2 <= py < y1 + 2
    box_share = float(np.mean([(b[2] - b[0] + 4) * (b[3] - b[1] + 4) for b in boxes.values()])) / 64**2
    best = hits.mean(axis=0).max()
    assert best >= MIN_CAM_HITS and best >= 5 * box_share, (best, box_share)
