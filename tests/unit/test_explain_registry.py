"""The method registry: names, labels and classes; what a method is comes from its class; every method runs."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.explain import ExplainError, compute_cams, explain_all
from cvd_explorer.explain import registry as reg
from cvd_explorer.explain.base import family_base
from cvd_explorer.explain.cam import ActivationCAM, CAMMethod, ChannelScoreCAM, GradientCAM
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
    method = spec.create({})
    assert isinstance(method, CAMMethod) and method.spec is spec and method.name == spec.name
    base = family_base(type(method))
    assert base in (GradientCAM, ActivationCAM, ChannelScoreCAM) and base.family == spec.family
    assert "family" not in vars(type(method))  # declared once, by the family's base
    assert isinstance(method.options, spec.options_type)


@pytest.mark.parametrize("spec", [s for s in reg.SPECS if s.family == reg.PIXEL], ids=lambda s: s.name)
def test_every_pixel_spec_names_a_pixel_class(spec):
    from cvd_explorer.explain.pixel import PixelMethod

    method = spec.create({})
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


def test_options_are_typed_dataclasses_with_clear_errors():
    from dataclasses import FrozenInstanceError

    spec = reg.method_spec("integrated-gradients")
    options = spec.create({"steps": 8}).options
    assert options.steps == 8 and options.baseline == "black" and options.batch_size == 32
    with pytest.raises(FrozenInstanceError):
        options.steps = 9
    with pytest.raises(ExplainError, match="integrated-gradients has no option 'step'; its options: batch_size, steps"):
        spec.create({"step": 8})
    with pytest.raises(ExplainError, match=r"integrated-gradients: steps must be an integer, got '8'"):
        spec.create({"steps": "8"})
    with pytest.raises(ExplainError, match="scorecam: top_k must be an integer >= 1, got 0"):
        reg.method_spec("scorecam").create({"top_k": 0})
    with pytest.raises(ExplainError, match="gradcam: jit_compile must be True or False, got 'yes'"):
        reg.method_spec("gradcam").create({"jit_compile": "yes"})
    with pytest.raises(ExplainError, match="smooth must be a SmoothOptions or None"):
        reg.method_spec("gradcam").create({"smooth": 3})
