"""Finding a planted shortcut (tests/unit/shortcut_fixture.py): the marked dogs of the test split, which
the model calls cats, form one of the first slices; similar images of one of them are marked images;
Grad-CAM for the wrong class sits on the mark.

Measured on four trainings of 1,200 images (this fixture's square at the bottom right; a ring at the top
left, bars at the bottom left and bars at the top right, trained the same way outside the suite with
``python -m tests.unit.shortcut_fixture CUE PLACE FOLDER``): the shortcut was slice 1, 1, 1 and 2 (34 dogs with
0.97 marked images; 33 dogs, all marked; 34 dogs, 0.97 marked; 33 dogs, all marked), holding every misclassified
marked dog (33, 31, 33, 33); the 10 nearest images of a misclassified marked dog had a median share of 1.0 marked
images; the best layer's Grad-CAM peak fell on the mark for 0.88, 0.97, 0.85 and 1.0 of them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.unit.demo_fixture import copy_run
from tests.unit.shortcut_fixture import (
    cam_hits,
    cue_boxes,
    shortcut_run,
    similar_cue_shares,
    slice_figures,
    wrong_marked,
)

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
    assert len(wrong_marked(atlas, boxes)) >= 8, "the model should fail on marked dogs"
    return run, atlas, boxes


@pytest.mark.timeout(1800)
def test_the_shortcut_is_one_of_the_first_three_slices(hans) -> None:  # type: ignore[no-untyped-def]
    _, atlas, boxes = hans
    slices = atlas.summary["slices"]
    json.dumps(slices, allow_nan=False)
    figures = slice_figures(atlas, boxes)
    found = [s for s, f in zip(slices[:3], figures, strict=False)
             if f["cue_share"] >= MIN_CUE_SHARE and f["coverage"] >= MIN_COVERAGE]
    assert found, figures[:3]
    first = found[0]
    assert first["interval"][0] <= first["error_rate"] <= first["interval"][1]
    assert first["error_rate"] > first["overall_error_rate"] and first["q_value"] < 0.01


def test_images_similar_to_a_marked_one_are_marked(hans) -> None:  # type: ignore[no-untyped-def]
    _, atlas, boxes = hans
    shares = similar_cue_shares(atlas, boxes)
    assert np.median(shares) >= MIN_SIMILAR_CUE, shares


def test_grad_cam_for_the_wrong_class_peaks_on_the_mark(hans) -> None:  # type: ignore[no-untyped-def]
    run_dir, atlas, boxes = hans
    hits, box_share = cam_hits(run_dir, atlas, boxes)
    best = max(hits.values())
    assert best >= MIN_CAM_HITS and best >= 5 * box_share, (hits, box_share)
