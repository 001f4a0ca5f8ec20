"""Blank maps: a layer with no positive evidence for the target says so in the panel."""

from __future__ import annotations

import numpy as np

from cvd_explorer.explain.engine import Explanation
from cvd_explorer.explore import views
from cvd_explorer.explore.samples import rows_from_arrays
from cvd_explorer.explore.session import SampleExplanation
from cvd_explorer.widgets import Explorer
from tests.unit.explain_fixtures import tiny_model
from tests.widgets.helpers import random_images


def _explained(cam: np.ndarray, target: str, prob: float = 0.8) -> SampleExplanation:
    row = rows_from_arrays([prob], ("cat", "dog"))[0]
    exp = Explanation(
        layers=("conv",), activations={"conv": np.ones((1, 4, 4, 2), np.float32)}, cams={"conv": cam[None]},
        channel_weights={"conv": np.ones((1, 2), np.float32)}, logits=np.zeros(1, np.float32),
        probs=np.full(1, prob, np.float32), method="gradcam",
    )
    return SampleExplanation(row, np.zeros((16, 16, 3), np.uint8), exp, "gradcam", target, "conv")


def test_evidence_note_for_zero_and_negative_maps():
    zero, negative = np.zeros((4, 4), np.float32), -np.ones((4, 4), np.float32)
    assert views.evidence_note(_explained(zero, "cat"), "conv") == "no positive evidence for cat at this layer"
    assert views.evidence_note(_explained(negative, "dog"), "conv") == "no positive evidence for dog at this layer"
    # "predicted" names the predicted class (p(dog) = 0.8: dog; 0.2: cat)
    assert views.evidence_note(_explained(zero, "predicted"), "conv").endswith("for dog at this layer")
    assert "for cat at" in views.evidence_note(_explained(zero, "predicted", prob=0.2), "conv")
    some = zero.copy()
    some[1, 2] = 0.3
    assert views.evidence_note(_explained(some, "dog"), "conv") == ""


def test_panel_says_when_a_layer_has_no_positive_evidence():
    # conv_b is ReLU'd (A >= 0) and the head's weights are all negative: dz/dA < 0 everywhere,
    # so the Grad-CAM of "dog" (score z) at conv_b is <= 0, all zero after the ReLU.
    model = tiny_model("sigmoid", seed=7)
    dense = model.get_layer("predictions")
    dense.kernel.assign(-np.abs(dense.kernel.numpy()) - 0.01)
    dense.bias.assign(np.zeros_like(dense.bias.numpy()))
    ex = Explorer(model=model, images=random_images(2, size=16), background=False)
    try:
        assert ex.layer.value == "conv_b"
        ex.target.value = "dog"
        assert ex.error.value == "", ex.error.value
        assert not ex.explanation.has_evidence("conv_b")
        assert "no positive evidence for dog at this layer" in ex.cam_note.value
        assert len(bytes(ex.cam_image.value)) > 0  # the plain image is still shown
        ex.target.value = "cat"  # score -z: the gradients are positive, so is the map
        assert ex.explanation.has_evidence("conv_b")
        assert ex.cam_note.value == ""
    finally:
        ex.close()
