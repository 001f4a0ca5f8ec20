"""A method registered by the user appears in the Explorer's method list and explains a sample there."""

from __future__ import annotations

from keras import ops

from cvd_explorer.explain import GradientCAM, register, unregister
from cvd_explorer.widgets import Explorer
from tests.widgets.helpers import random_images


class NegatedGradCAM(GradientCAM):
    """Grad-CAM of the negated score: a user's method defined in this test."""

    def weights(self, activations, gradients):
        return -ops.mean(gradients, axis=(1, 2))


def test_the_explorer_offers_and_runs_a_registered_method(model32):
    register("neg-gradcam", "Negated Grad-CAM (test)", NegatedGradCAM)
    try:
        ex = Explorer(model=model32, images=random_images(2), background=False)
        try:
            assert ("Negated Grad-CAM (test)", "neg-gradcam") in list(ex.method.options)
            ex.method.value = "neg-gradcam"
            assert ex.explanation.method == "neg-gradcam"
            assert len(bytes(ex.cam_image.value)) > 0
        finally:
            ex.close()
    finally:
        unregister("neg-gradcam")
