"""Quality on synthetic cats and dogs: does Grad-CAM point at the animal, and does it depend on the weights?

Uses a resnet-mini trained once on synthetic images and cached (see
``explain_fixtures.trained_synthetic_mini``). Figures are printed for the issue's closing note.
"""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.explain import compute_cams
from cvd_explorer.explain.metrics import pointing_game, random_maps, randomization_check
from cvd_explorer.models import block_outputs
from tests.unit.explain_fixtures import SYNTH_SIZE, SYNTH_TEST, synthetic_set, trained_synthetic_mini

TOLERANCE_PX = round(15 * SYNTH_SIZE / 224)  # Zhang et al.'s 15 px at 224 px, scaled to the image


@pytest.fixture(scope="module")
def trained():
    model = trained_synthetic_mini()
    x, y, masks = synthetic_set(SYNTH_TEST, 10_000)
    p = model.predict(x, verbose=0)[:, 0]
    correct = (p >= 0.5) == (y == 1)
    print(f"\nsynthetic test accuracy {correct.mean():.3f} on {len(y)} images")
    return model, x[correct], masks[correct]


@pytest.mark.slow
def test_pointing_game_at_last_block_beats_random(trained):
    model, x, masks = trained
    layer = block_outputs(model)[-1]
    cams = compute_cams(model, x, [layer], target="predicted")[layer]
    ours = pointing_game(cams, masks, TOLERANCE_PX)
    rand = np.mean([pointing_game(random_maps(cams.shape, seed=s), masks, TOLERANCE_PX) for s in range(5)])
    print(
        f"pointing game at {layer} (tolerance {TOLERANCE_PX} px, {len(x)} correct images): {ours:.3f}; "
        f"random maps {rand:.3f}"
    )
    assert ours >= 0.8
    assert ours >= rand + 0.3


@pytest.mark.slow
def test_randomization_decorrelates_maps(trained):
    model, x, _ = trained
    layer = block_outputs(model)[-2]
    steps = randomization_check(model, x[:40], layer, max_steps=4)
    for s in steps:
        print(
            f"randomized down to {s['randomized']}: median Spearman {s['spearman_median']:.3f} "
            f"(random maps {s['baseline_median']:.3f})"
        )
    assert steps[0]["spearman_median"] == pytest.approx(1.0)
    assert steps[2]["spearman_median"] < 0.5  # head and the top block randomized
