"""A functional *view* of a Keras model that records inner activations and the head's logits.

Approach (nested models, no mutation): instead of building a new ``keras.Model`` from inner
tensors — which fails with "Graph disconnected" as soon as the wanted layer lives inside a nested
model, because the nested model's tensors belong to its own graph — :func:`run_view` *re-executes*
the model's graph on a concrete tensor. For a functional model it walks the nodes in dependency
order with Keras' own graph runner (``Functional._run_through_graph``, the routine behind
``Functional.call``; it is private, so pyproject.toml pins ``keras<3.16``, see
:func:`graph_runner`) and a hook per operation; for a ``Sequential`` it applies ``model.layers`` in
order. Whenever an operation is itself a functional or sequential model the walk recurses into
it, so ``Sequential([ResNet50(include_top=False), GlobalAveragePooling2D(), Dense(1, "sigmoid")])``
and ``inputs -> Rescaling -> backbone(x) -> head`` are handled exactly like a flat model. Every
leaf layer is called as the model itself would call it (``training=False``), so weights are shared
and nothing is copied, cloned or modified: not the weights, not ``layer.activation``, not the
model's layer list or outputs.

The model's head is intercepted rather than replaced: when the last operation is a ``Dense``
layer with a sigmoid, softmax or linear activation, the view computes ``z = x @ kernel + bias``
in float32 from the Dense layer's input (the logit), and the probability from ``z``. When the
last operation is an ``Activation("sigmoid"|"softmax")`` layer, its input is the logit. For any
other head the logit is recovered as ``log(p / (1 - p))`` from clipped probabilities, with a
warning (gradients vanish where that clip bites).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
from keras import ops

from cvd_explorer.explain.errors import ExplainError

HEAD_INPUT = "<head input>"
"""Put in ``wanted`` to record the head's input (the pooled features) under this key; no layer has this name."""

_LOGIT_ACTIVATIONS = ("sigmoid", "softmax", "linear")

LeafHook = Callable[[Any, Any], Any]
"""``hook(layer, output) -> output``: applied to every leaf layer's output inside the view (never to the head)."""


@dataclass(frozen=True)
class Head:
    """How to read logits off a model's last operation.

    Attributes:
        layer: the model's last leaf layer (possibly inside a nested model).
        kind: ``"dense"`` (Dense with sigmoid/softmax/linear: recompute ``x @ W + b``),
            ``"activation"`` (an Activation layer: its input is the logit) or ``"probability"``
            (anything else: invert the probability).
        squash: ``"sigmoid"`` or ``"softmax"``: how logits become probabilities.
        units: number of outputs K.
    """

    layer: Any
    kind: str
    squash: str
    units: int


GRAPH_RUNNER = "_run_through_graph"
"""Keras' private ``Functional._run_through_graph(inputs, operation_fn=...)``, the routine behind
``Functional.call``: the view walks a functional model with it (no public API runs a hook per
operation). pyproject.toml pins ``keras<3.16`` for it; tests/unit/test_explain_view_keras.py
fails with a clear message when its signature changes."""
GRAPH_RUNNER_PARAMETERS = ("inputs", "operation_fn")
"""The parameters of :data:`GRAPH_RUNNER` the view passes."""


def is_graph_model(layer: Any) -> bool:
    """True for models whose inner layers the view can reach (functional or sequential)."""
    return isinstance(layer, keras.Sequential) or (isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth"))


def graph_runner(model: Any) -> Callable[..., Any]:
    """``model._run_through_graph`` of a functional model.

    Raises:
        ExplainError: this Keras has no such method (it is private; the package pins the Keras
            versions that have it).
    """
    runner: Callable[..., Any] | None = getattr(model, GRAPH_RUNNER, None)
    if runner is None or not callable(runner):
        raise ExplainError(
            f"Keras {keras.__version__} has no Functional.{GRAPH_RUNNER}, which the explain view uses to walk "
            f"model {getattr(model, 'name', model)!r}; install a Keras version the package supports "
            "(pip install 'keras>=3.14.1,<3.16')"
        )
    return runner


def _last_layer(model: Any) -> Any:
    """The leaf layer producing the model's (single) output, descending into nested models."""
    if isinstance(model, keras.Sequential):
        last = model.layers[-1]
    elif is_graph_model(model):
        if len(model.outputs) != 1:
            raise ExplainError(
                f"model {model.name!r} has {len(model.outputs)} outputs; explanations need a single-output classifier"
            )
        last = model.outputs[0]._keras_history.operation
    else:
        raise ExplainError(
            f"model {model.name!r} is a subclassed {type(model).__name__}; explanations need a functional or "
            "Sequential model (nested models are fine)"
        )
    return _last_layer(last) if is_graph_model(last) else last


def find_head(model: Any) -> Head:
    """Inspect (never change) the model's last layer to decide how logits are read."""
    layer = _last_layer(model)
    units = int(layer.output.shape[-1]) if getattr(layer, "output", None) is not None else 1
    act_name = getattr(getattr(layer, "activation", None), "__name__", None)
    if isinstance(layer, keras.layers.Dense) and act_name in _LOGIT_ACTIVATIONS:
        units = int(layer.units)
        squash = "softmax" if act_name == "softmax" or (act_name == "linear" and units > 1) else "sigmoid"
        return Head(layer, "dense", squash, units)
    if isinstance(layer, keras.layers.Activation) and act_name in ("sigmoid", "softmax"):
        return Head(layer, "activation", act_name, units)
    warnings.warn(
        f"the head {layer.name!r} ({type(layer).__name__}) is not a Dense or Activation layer with a sigmoid or "
        "softmax; logits are recovered from clipped probabilities, so saturated predictions may give empty maps",
        stacklevel=3,
    )
    return Head(layer, "probability", "softmax" if units > 1 else "sigmoid", units)


def _call_leaf(layer: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    if "training" in getattr(layer, "_call_context_args", ()) or getattr(layer, "_call_has_training_arg", False):
        kwargs = {**kwargs, "training": False}
    return layer(*args, **kwargs)


def _head_logits(head: Head, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
    """Return (logits float32 (N, K), the head's usual output)."""
    x = args[0]
    if head.kind == "dense":
        layer = head.layer
        z = ops.matmul(ops.cast(x, "float32"), ops.cast(layer.kernel, "float32"))
        if layer.use_bias:
            z = z + ops.cast(layer.bias, "float32")
        return z, _squash(head, z)
    if head.kind == "activation":
        z = ops.cast(x, "float32")
        return z, _squash(head, z)
    p = ops.cast(_call_leaf(head.layer, args, kwargs), "float32")
    p = ops.clip(p, 1e-7, 1.0 - 1e-7)
    if head.squash == "softmax":
        return ops.log(p), p
    return ops.log(p) - ops.log(1.0 - p), p


def _squash(head: Head, z: Any) -> Any:
    return ops.softmax(z, axis=-1) if head.squash == "softmax" else ops.sigmoid(z)


def run_view(
    model: Any, x: Any, wanted: frozenset[str], head: Head | None, leaf_hook: LeafHook | None = None
) -> tuple[dict[str, Any], Any, Any]:
    """Run ``model`` on ``x`` and record the outputs of the ``wanted`` layers and the logits.

    Args:
        model: a functional or Sequential Keras model (nested models are walked).
        x: input tensor ``(N, H, W, 3)``.
        wanted: names of layers (anywhere in the model) whose outputs to record, and
            :data:`HEAD_INPUT` to record the head's input (needs ``head``).
        head: from :func:`find_head`; None skips the logits (forward for activations only).
        leaf_hook: applied to each leaf layer's output, in the view only (guided backprop puts
            its backward rule on the ReLUs' outputs this way; the model is not touched).

    Returns:
        ``(record, logits, probs)``: ``record`` maps layer name -> output tensor (first call of
        that layer); ``logits`` float32 ``(N, K)`` and ``probs`` ``(N, K)`` (None without a head).
    """
    record: dict[str, Any] = {}
    found: dict[str, Any] = {}

    def visit(layer: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if head is not None and layer is head.layer:
            logits, out = _head_logits(head, args, kwargs)
            found["logits"], found["probs"] = logits, out
            if HEAD_INPUT in wanted:
                record[HEAD_INPUT] = args[0]
        elif is_graph_model(layer):
            out = _walk(layer, args[0] if len(args) == 1 else list(args))
        else:
            out = _call_leaf(layer, args, kwargs)
            if leaf_hook is not None:
                out = leaf_hook(layer, out)
        if layer.name in wanted and layer.name not in record:
            record[layer.name] = out
        return out

    def _walk(m: Any, inputs: Any) -> Any:
        if isinstance(m, keras.Sequential):
            h = inputs
            for layer in m.layers:
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                h = visit(layer, (h,), {})
            return h
        outputs = graph_runner(m)(inputs, operation_fn=lambda op: (lambda *a, **k: visit(op, a, k)))
        return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs

    _walk(model, x)
    return record, found.get("logits"), found.get("probs")
