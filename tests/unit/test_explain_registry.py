"""The method registry: specs as data, found lazily, and every registered method runs."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.explain import ExplainError, compute_cams, explain_all
from cvd_explorer.explain import registry as reg
from cvd_explorer.explain.cam import CAMMethod, GradCAM, GradientCAM, get_method
from tests.unit.explain_fixtures import images, tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model("sigmoid", seed=5)


@pytest.fixture(scope="module")
def x():
    return images(2, seed=6)


def test_specs_are_unique_and_complete():
    names = [s.name for s in reg.SPECS]
    assert len(set(names)) == len(names) and tuple(names) == reg.METHODS
    assert len({s.label for s in reg.SPECS}) == len(reg.SPECS)
    assert reg.DEFAULT_METHOD in reg.METHODS
    assert [s.name for s in reg.SPECS if s.per_layer] == ["scorecam"]


@pytest.mark.parametrize("spec", [s for s in reg.SPECS if s.family != reg.PIXEL], ids=lambda s: s.name)
def test_every_spec_names_a_class_of_its_family(spec):
    method = get_method(spec.name)
    assert isinstance(method, CAMMethod) and method.spec is spec and method.name == spec.name
    assert type(method).family == spec.family


@pytest.mark.parametrize("spec", [s for s in reg.SPECS if s.family == reg.PIXEL], ids=lambda s: s.name)
def test_every_pixel_spec_names_a_pixel_class(spec):
    from cvd_explorer.explain.pixel import PixelMethod, get_pixel_method

    method = get_pixel_method(spec.name, {})
    assert isinstance(method, PixelMethod) and method.spec is spec and type(method).family == spec.family
    assert spec.uses_layer == (spec.name == "guided-gradcam") and not spec.per_layer


def test_method_lists_split_by_family():
    assert reg.CAM_METHODS + reg.PIXEL_METHODS == reg.METHODS
    assert reg.PIXEL_METHODS == ("saliency", "smoothgrad", "integrated-gradients", "guided-backprop", "guided-gradcam")


@pytest.mark.parametrize("name", reg.CAM_METHODS)
def test_every_registered_method_runs_through_the_engine(model, x, name):
    spec = reg.method_spec(name)
    layers = ["conv_b"] if spec.per_layer else None
    cams = compute_cams(model, x, layers=layers, method=name, target="dog")
    assert list(cams) == (["conv_b"] if spec.per_layer else ["conv_a", "conv_b"])
    for cam in cams.values():
        assert cam.shape == (2, 16, 16) and cam.dtype == np.float32 and np.isfinite(cam).all()
        assert cam.min() >= 0 and cam.max() <= 1 + 1e-6
    exp = explain_all(model, x, layers=layers, method=name)
    assert exp.method == name and set(exp.cams) == set(exp.activations) == set(exp.channel_weights)
    assert exp.logits.shape == exp.probs.shape == (2,)


def test_per_layer_method_refuses_several_layers(model, x):
    name = next(s.name for s in reg.SPECS if s.per_layer)
    with pytest.raises(ExplainError, match="one layer per call"):
        compute_cams(model, x, layers=["conv_a", "conv_b"], method=name)


def test_unknown_method_and_bad_spec():
    with pytest.raises(ExplainError, match="unknown method 'nope'; choose one of gradcam"):
        reg.method_spec("nope")
    with pytest.raises(ExplainError, match="unknown method"):
        reg.method_spec(["gradcam"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="family must be one of"):
        reg.MethodSpec("x", "X", "magic", "m:C")
    with pytest.raises(ValueError, match="no layer cannot be computed per layer"):
        reg.MethodSpec("x", "X", reg.PIXEL, "m:C", per_layer=True, uses_layer=False)


class NegatedGradCAM(GradientCAM):
    """A method written outside the package: Grad-CAM of the negated score."""

    def weights(self, activations, gradients):
        return -GradCAM.weights(self, activations, gradients)


def test_adding_a_method_is_one_class_and_one_spec(model, x, monkeypatch):
    spec = reg.MethodSpec("neg-gradcam", "Negated Grad-CAM", reg.GRADIENT, f"{__name__}:NegatedGradCAM")
    monkeypatch.setitem(reg._BY_NAME, spec.name, spec)
    got = compute_cams(model, x, layers=["conv_b"], method=spec.name, target="dog", normalize=False, size="native")
    ref = compute_cams(model, x, layers=["conv_b"], method="gradcam", target="dog", normalize=False, size="native")
    np.testing.assert_allclose(got["conv_b"], -ref["conv_b"], rtol=1e-5, atol=1e-7)


def test_a_spec_whose_class_disagrees_is_refused(monkeypatch):
    spec = reg.MethodSpec("wrong", "Wrong", reg.SCORE, "cvd_explorer.explain.cam:GradCAM")
    monkeypatch.setitem(reg._BY_NAME, spec.name, spec)
    with pytest.raises(ExplainError, match="its class GradCAM computes 'gradient'"):
        get_method("wrong")
    pixel = reg.MethodSpec("pix", "Pixels", reg.PIXEL, "cvd_explorer.explain.registry:MethodSpec", uses_layer=False)
    monkeypatch.setitem(reg._BY_NAME, pixel.name, pixel)
    with pytest.raises(ExplainError, match="is a pixel attribution with no maps per layer"):
        get_method("pix")
