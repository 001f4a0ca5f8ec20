"""The one TensorFlow-specific step: gradients of a score with respect to many tensors at once.

Everything else in the engine uses ``keras.ops`` or numpy; a JAX or PyTorch backend needs only
another version of :func:`score_and_gradients`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import tensorflow as tf

_Extras = TypeVar("_Extras")


def score_and_gradients(
    forward: Callable[[Any], tuple[Sequence[Any], Any, _Extras]], x: Any
) -> tuple[Sequence[Any], Sequence[Any], _Extras]:
    """One forward and one backward pass.

    Args:
        forward: ``forward(x) -> (tensors, scores, extras)``: ``tensors`` a list of inner
            activations, ``scores`` a ``(N,)`` tensor of per-image target scores (images are
            independent, so the gradient of their sum is each image's own gradient), ``extras``
            anything else to return (logits, probabilities).
        x: input tensor ``(N, H, W, 3)``; watched, so frozen (non-trainable) models work too.

    Returns:
        ``(tensors, gradients, extras)``; the gradient of a tensor that does not reach the score
        is zeros of its shape.
    """
    with tf.GradientTape() as tape:
        tape.watch(x)
        tensors, scores, extras = forward(x)
        total = tf.reduce_sum(tf.cast(scores, tf.float32))
    grads: Sequence[Any] = tape.gradient(total, list(tensors), unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tensors, grads, extras


class _OwnStep:
    """A step function as a callable object, so that TensorFlow counts its traces apart.

    TensorFlow's "triggered tf.function retracing" warning counts traces per Python code object
    (``fn.__code__``): every engine step built for another model, layer tuple or method shares one
    code object, so a report that explains a few models in a row (or the randomisation check's
    copy) looked like one function retracing. An object without ``__code__`` is counted by its own
    identity: a warning now means that *this* step really is retraced.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)


def trace(fn: Callable[..., Any], jit_compile: bool = False) -> Callable[..., Any]:
    """Trace ``fn`` into a cached graph (batch size may vary without retracing)."""
    traced: Callable[..., Any] = tf.function(_OwnStep(fn), jit_compile=jit_compile, reduce_retracing=True)
    return traced


def _positive_gradient_identity(y: Any) -> tuple[Any, Callable[[Any], Any]]:
    def grad(dy: Any) -> Any:
        return tf.nn.relu(dy)

    return tf.identity(y), grad


_GUIDED: Callable[[Any], Any] = tf.custom_gradient(_positive_gradient_identity)


def guided_identity(y: Any) -> Any:
    """Identity forward; backward passes only the positive part of the incoming gradient.

    Put on the output of a ReLU, the ReLU's own backward (gradient where ``y > 0``) then makes
    the guided-backpropagation rule of Springenberg et al. 2015: ``dx = dy * (x > 0) * (dy > 0)``.
    """
    return _GUIDED(y)
