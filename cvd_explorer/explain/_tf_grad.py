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


def trace(fn: Callable[..., Any], jit_compile: bool = False) -> Callable[..., Any]:
    """Trace ``fn`` into a cached graph (batch size may vary without retracing)."""
    traced: Callable[..., Any] = tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    return traced
