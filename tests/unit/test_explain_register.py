"""An open registry: a user's method, defined here, is offered by the engine, attribute() and the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from keras import ops

import cvd_explorer.explain as explain
from cvd_explorer.explain import (
    ActivationCAM,
    ExplainError,
    GradientCAM,
    GradientCAMOptions,
    PixelMethod,
    attribute,
    compute_cams,
    explain_all,
    register,
    unregister,
)
from tests.unit.explain_fixtures import images, tiny_model


class NegatedGradCAM(GradientCAM):
    """A user's CAM: Grad-CAM of the negated score (overrides only the channel weights)."""

    def weights(self, activations, gradients):
        return -ops.mean(gradients, axis=(1, 2))


@dataclass(frozen=True, kw_only=True)
class ScaledOptions(GradientCAMOptions):
    scale: float = 2.0


class ScaledGradCAM(GradientCAM):
    """A user's CAM with its own typed option."""

    Options = ScaledOptions

    def weights(self, activations, gradients):
        return self.options.scale * ops.mean(gradients, axis=(1, 2))


class DoubledSaliency(PixelMethod):
    """A user's pixel attribution: twice the input gradient."""

    def signed(self, ctx):
        return 2.0 * ctx.gradients(ctx.x, ctx.weights)


@pytest.fixture
def registered():
    """Register methods for one test; they are removed afterwards, whatever happens."""
    names = []

    def add(name, label, cls):
        spec = register(name, label, cls)
        names.append(name)
        return spec

    yield add
    for name in names:
        unregister(name)


@pytest.fixture(scope="module")
def data():
    """A tiny sigmoid model and two images."""
    return tiny_model("sigmoid", seed=5), images(2, seed=6)


def test_a_registered_cam_runs_everywhere_the_built_ins_do(registered, data):
    model, x = data
    spec = registered("neg-gradcam", "Negated Grad-CAM", NegatedGradCAM)
    assert spec.family == "gradient" and not spec.per_layer and spec.uses_layer
    assert "neg-gradcam" in explain.METHODS and "neg-gradcam" in explain.CAM_METHODS
    assert explain.SPECS[-1] is spec
    kw = dict(layers=["conv_b"], target="dog", normalize=False, size="native")
    got = compute_cams(model, x, method="neg-gradcam", **kw)["conv_b"]
    ref = compute_cams(model, x, method="gradcam", **kw)["conv_b"]
    np.testing.assert_allclose(got, -ref, rtol=1e-5, atol=1e-7)
    assert explain_all(model, x, ["conv_b"], "neg-gradcam").method == "neg-gradcam"


def test_unregister_removes_the_method(data):
    model, x = data
    register("neg-gradcam", "Negated Grad-CAM", NegatedGradCAM)
    try:
        assert "neg-gradcam" in explain.METHODS
    finally:
        unregister("neg-gradcam")
    assert "neg-gradcam" not in explain.METHODS
    with pytest.raises(ExplainError, match="unknown method 'neg-gradcam'"):
        compute_cams(model, x, method="neg-gradcam")
    with pytest.raises(ExplainError, match="built-in method"):
        unregister("gradcam")


def test_a_user_option_is_typed_and_checked(registered, data):
    model, x = data
    registered("scaled-gradcam", "Scaled Grad-CAM", ScaledGradCAM)
    kw = dict(layers=["conv_b"], target="dog", normalize=False, size="native")
    three = compute_cams(model, x, method="scaled-gradcam", scale=3.0, **kw)["conv_b"]
    ref = compute_cams(model, x, method="gradcam", **kw)["conv_b"]
    np.testing.assert_allclose(three, 3.0 * ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ExplainError, match="scaled-gradcam: scale must be a number, got 'big'"):
        compute_cams(model, x, method="scaled-gradcam", scale="big")
    with pytest.raises(ExplainError, match="scaled-gradcam has no option 'steps'; its options: batch_size, "
                                           "jit_compile, smooth, scale"):
        compute_cams(model, x, method="scaled-gradcam", steps=3)


def test_a_registered_pixel_method_runs_through_attribute(registered, data):
    model, x = data
    spec = registered("doubled-saliency", "Doubled saliency", DoubledSaliency)
    assert spec.family == "pixel" and not spec.uses_layer and "doubled-saliency" in explain.PIXEL_METHODS
    got = attribute(model, x, "doubled-saliency", target="dog", reduce=None)
    np.testing.assert_allclose(got, 2.0 * attribute(model, x, "saliency", target="dog", reduce=None), rtol=1e-6)


def test_the_cli_offers_a_registered_method(registered, tmp_path, capsys):
    from cvd_explorer.cli import main

    model = tiny_model("sigmoid", seed=5)
    model_file = tmp_path / "m.keras"
    model.save(model_file)
    image = tmp_path / "a.png"
    import cv2

    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8))
    argv = ["cam", "--model", str(model_file), "--image", str(image), "--out", str(tmp_path / "o"),
            "--method", "neg-gradcam"]
    with pytest.raises(SystemExit):  # not registered yet: argparse refuses the choice
        main(argv)
    assert "invalid choice: 'neg-gradcam'" in capsys.readouterr().err
    registered("neg-gradcam", "Negated Grad-CAM", NegatedGradCAM)
    assert main(argv) == 0
    assert json.loads((tmp_path / "o" / "cam.json").read_text())["method"] == "neg-gradcam"


class NotAMethod:
    def weights(self, activations, gradients):
        return activations


class Lazy(GradientCAM):
    """Overrides nothing."""


def test_bad_registrations_are_clear_errors(registered):
    registered("neg-gradcam", "Negated Grad-CAM", NegatedGradCAM)
    with pytest.raises(ExplainError, match="'neg-gradcam' is already registered"):
        register("neg-gradcam", "Again", NegatedGradCAM)
    with pytest.raises(ExplainError, match="'gradcam' is already registered"):
        register("gradcam", "Mine", NegatedGradCAM)
    with pytest.raises(ExplainError, match="is not a subclass of GradientCAM, ActivationCAM, ChannelScoreCAM or "
                                           "PixelMethod"):
        register("odd", "Odd", NotAMethod)
    with pytest.raises(ExplainError, match="ActivationCAM is a family base; register a subclass"):
        register("odd", "Odd", ActivationCAM)
    with pytest.raises(ExplainError, match="Lazy must override weights or combine of GradientCAM"):
        register("odd", "Odd", Lazy)
    with pytest.raises(ExplainError, match="Options must subclass GradientCAMOptions"):
        register("odd", "Odd", type("Untyped", (NegatedGradCAM,), {"Options": dict}))
    with pytest.raises(ExplainError, match="non-empty string"):
        register("", "Odd", NegatedGradCAM)
    assert "odd" not in explain.METHODS
