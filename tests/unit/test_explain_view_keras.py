"""The explain view leans on Keras' private Functional._run_through_graph: fail loudly when Keras changes it."""

from __future__ import annotations

import inspect

import keras
import pytest

from cvd_explorer.explain import ExplainError
from cvd_explorer.explain.view import GRAPH_RUNNER, GRAPH_RUNNER_PARAMETERS, graph_runner, is_graph_model


def _functional() -> keras.Model:
    inp = keras.Input((4,))
    return keras.Model(inp, keras.layers.Dense(1)(inp))


def test_keras_graph_runner_keeps_the_signature_the_view_uses():
    model = _functional()
    runner = getattr(type(model), GRAPH_RUNNER, None)
    assert callable(runner), (
        f"Keras changed Functional.{GRAPH_RUNNER}: Keras {keras.__version__} has no such method; "
        "cvd_explorer/explain/view.py walks functional models with it (update the view, then the keras pin)"
    )
    params = list(inspect.signature(runner).parameters)
    assert params[1 : 1 + len(GRAPH_RUNNER_PARAMETERS)] == list(GRAPH_RUNNER_PARAMETERS), (
        f"Keras changed Functional.{GRAPH_RUNNER}: Keras {keras.__version__} has parameters {params}, the explain "
        f"view passes {list(GRAPH_RUNNER_PARAMETERS)} (cvd_explorer/explain/view.py; update it, then the keras pin)"
    )
    assert is_graph_model(model) and graph_runner(model) is not None


def test_a_keras_without_the_graph_runner_is_a_clear_error():
    class Bare:
        name = "bare"

    with pytest.raises(ExplainError, match=rf"Keras {keras.__version__} has no Functional.{GRAPH_RUNNER}.*'bare'.*"
                                           r"keras>=3.14.1,<3.16"):
        graph_runner(Bare())
