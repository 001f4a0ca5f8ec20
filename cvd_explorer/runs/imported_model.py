"""A user's Keras classifier as the toolkit's models are: RGB 0-255 in, probabilities out.

:func:`inspect_model` reads what an import needs off a loaded model (input size, the output to
use, the head's width and kind, a preprocessing guess) and refuses what cannot be explained
(subclassed, several inputs, non-image input, several outputs without a name). :func:`wrap`
builds the functional model ``Run.load_model`` returns for an imported run::

    image (S, S, 3) 0-255 -> [preprocessing] -> the user's model (nested, unchanged) -> [sigmoid/softmax]

The user's model stays one nested layer, so ``models.conv_layers`` / ``find_layer`` and the explain
view reach its inner layers; a logits head gets an ``Activation`` after it, whose input the view
takes as the logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from cvd_explorer.errors import RunError
from cvd_explorer.explain.view import is_graph_model
from cvd_explorer.layers import CaffePreprocess
from cvd_explorer.models import iter_layers
from cvd_explorer.runs.imported_meta import ImportedInfo

TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
# keras.applications families that expect preprocessed input, by the nested backbone's name prefix.
_BACKBONE_PREPROCESS = (
    ("resnet50v2", "tf"), ("resnet101v2", "tf"), ("resnet152v2", "tf"), ("resnet", "caffe"), ("vgg", "caffe"),
    ("mobilenet", "tf"), ("inception", "tf"), ("xception", "tf"), ("nasnet", "tf"), ("densenet", "torch"),
)
_PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


@dataclass(frozen=True)
class ModelFacts:
    """What :func:`inspect_model` found.

    Attributes:
        input_size: the fixed side S of a square ``(S, S, 3)`` input, or None when not fixed.
        output: the output layer's name when the model has several outputs (None: the only one).
        units: width of the output used.
        head: ``"probabilities"``, ``"logits"`` or None (cannot tell from the last layer).
        preprocess: the guessed preprocessing and ``preprocess_reason`` why.
    """

    input_size: int | None
    output: str | None
    units: int
    head: str | None
    preprocess: str
    preprocess_reason: str


def inspect_model(model: Any, name: str, output: str | None = None) -> ModelFacts:
    """Check that ``model`` can be explained and read its facts (``name`` is the file, for messages)."""
    if not isinstance(model, keras.Model) or not is_graph_model(model):
        raise RunError(subclassed_message(name, type(model).__name__))
    if len(model.inputs) != 1:
        raise RunError(f"{name}: the model has {len(model.inputs)} inputs; an image classifier takes one image batch")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise RunError(f"{name}: the model's input has shape {_shape(shape)}, not an RGB image batch (N, H, W, 3); "
                       "only channels-last RGB image classifiers can be imported")
    h, w = shape[1], shape[2]
    if h is not None and w is not None and h != w:
        raise RunError(f"{name}: the model's input is {h}x{w} px; the toolkit feeds square images (S, S, 3)")
    size = int(h) if h is not None and w is not None else None
    tensor, chosen = _output(model, name, output)
    if len(tensor.shape) != 2:
        raise RunError(f"{name}: the output {chosen or 'of the model'} has shape {_shape(tuple(tensor.shape))}; "
                       "a classifier outputs (N, K) class scores")
    preprocess, reason = guess_preprocess(model)
    return ModelFacts(size, chosen, int(tensor.shape[-1]), guess_head(tensor), preprocess, reason)


def subclassed_message(name: str, class_name: str) -> str:
    """The refusal of a model without a functional graph."""
    return (f"{name} is a subclassed model ({class_name}) with no functional graph, so its layers cannot be "
            "opened one by one; rebuild it with keras.Sequential or keras.Model(inputs, outputs) and save that")


def _output(model: Any, name: str, output: str | None) -> tuple[Any, str | None]:
    names = [t._keras_history.operation.name for t in model.outputs]
    if output is None:
        if len(names) != 1:
            raise RunError(f"{name}: the model has {len(names)} outputs ({', '.join(names)}); "
                           "name the class scores with --output NAME")
        return model.outputs[0], None
    if output not in names:
        raise RunError(f"{name}: the model has no output named {output!r}; its outputs are {', '.join(names)}")
    return model.outputs[names.index(output)], (output if len(names) > 1 else None)


def _last_leaf(tensor: Any) -> Any:
    layer = tensor._keras_history.operation
    while isinstance(layer, keras.Model):
        is_sequential = isinstance(layer, keras.Sequential)
        layer = layer.layers[-1] if is_sequential else layer.outputs[0]._keras_history.operation
    return layer


def guess_head(tensor: Any) -> str | None:
    """"probabilities" when the output's last layer ends in a sigmoid or softmax, "logits" when it is
    linear, None when it cannot be told (another activation or layer type)."""
    layer = _last_leaf(tensor)
    if isinstance(layer, keras.layers.Softmax):
        return "probabilities"
    activation = getattr(getattr(layer, "activation", None), "__name__", None)
    if activation in _PROBABILITY_ACTIVATIONS:
        return "probabilities"
    if activation == "linear" and isinstance(layer, (keras.layers.Dense, keras.layers.Activation)):
        return "logits"
    return None


def guess_preprocess(model: Any) -> tuple[str, str]:
    """The preprocessing a model probably expects, and why: "none" when it holds its own
    ``Rescaling``/``Normalization`` layers, the ``keras.applications`` convention of a nested
    backbone it holds, else "none" (it is taken to want RGB 0-255)."""
    for layer in iter_layers(model):
        if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization)):
            return "none", f"it has its own {type(layer).__name__} layer {layer.name!r}"
    for nested in _nested(model):
        lowered = nested.name.lower()
        for prefix, convention in _BACKBONE_PREPROCESS:
            if lowered.startswith(prefix):
                return convention, f"its nested backbone {nested.name!r} expects keras.applications' {convention!r}"
    return "none", "no preprocessing layer or known backbone found: it is fed RGB 0-255 as is"


def _nested(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.append(layer)
            out.extend(_nested(layer))
    return out


def wrap(model: Any, info: ImportedInfo) -> Any:
    """The imported model as the toolkit's consumers take it: RGB 0-255 ``(N, S, S, 3)`` ->
    P(classes[1]) ``(N, 1)`` or softmax ``(N, K)``; ``model`` is nested, never changed."""
    core = model
    if info.output is not None:
        tensor, _ = _output(model, info.output, info.output)
        core = keras.Model(model.inputs, tensor, name=f"{model.name}_{info.output}")
    inputs = keras.Input((info.input_size, info.input_size, 3), name="image")
    x = preprocessing(info.preprocess)(inputs)
    y = core(x)
    if info.head == "logits":
        units = int(y.shape[-1])
        y = keras.layers.Activation("sigmoid" if units == 1 else "softmax", dtype="float32", name="imported_probs")(y)
    return keras.Model(inputs, y, name=f"imported_{model.name}")


def as_classifier(model: Any, preprocess: str | None = None, head: str = "auto", output: str | None = None) -> Any:
    """``model`` (in memory, e.g. for ``Explorer(model=...)``) wrapped as :func:`wrap` does for an
    import: the same guesses of the input convention and the head, unless given; RunError when it
    cannot be explained or its input size is not fixed."""
    facts = inspect_model(model, model.name, output)
    kind = facts.head if head == "auto" else head
    if facts.input_size is None or kind is None:
        missing = "a fixed input size" if facts.input_size is None else "a head that is known (give head=)"
        raise RunError(f"{model.name}: cannot wrap a model without {missing}")
    info = ImportedInfo(model.name, kind, preprocess or facts.preprocess, facts.input_size, facts.output)
    return wrap(model, info)


def preprocessing(name: str) -> Any:
    """The layer feeding RGB 0-255 to a model expecting ``name`` ("none": the identity)."""
    if name == "none":
        return keras.layers.Identity(name="imported_input")
    if name == "scale":
        return keras.layers.Rescaling(1.0 / 255, name="imported_scale")
    if name == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="imported_tf")
    if name == "caffe":
        return CaffePreprocess(name="imported_caffe")
    if name == "torch":
        scale = [1.0 / (255.0 * s) for s in TORCH_STD]
        offset = [-m / s for m, s in zip(TORCH_MEAN, TORCH_STD, strict=True)]
        return keras.layers.Rescaling(scale, offset=offset, name="imported_torch")
    raise RunError(f"unknown preprocessing {name!r}")


def _shape(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join("N" if i == 0 else ("?" if d is None else str(d)) for i, d in enumerate(shape)) + ")"
