"""The CAM family: one base class per family and one small class per method.

A method sees a layer's ``activations`` ``A``, ``(N, h, w, C)`` float32, and what its family adds:
the ``gradients`` ``G`` of the target score with respect to them (same shape) for the gradient
family, the per-channel scores of masked forward passes ``(N, C)`` for the score family, nothing
for the activation family. It returns a raw map ``(N, h, w)`` plus per-channel weights ``(N, C)``.
Methods use ``keras.ops`` only, so they run inside the engine's traced graph and equally on numpy
arrays. ReLU, resizing and normalisation belong to the engine, not to the methods.

A method's family, options and costs are those of the family base it derives from; adding a
method is a subclass and one :func:`cvd_explorer.explain.register` call (the built-in ones are
listed in :mod:`cvd_explorer.explain.registry`).

Notation: ``k`` indexes channels, ``(i, j)`` positions, ``Z = h * w``, ``Y`` the target score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from keras import ops

from cvd_explorer.explain.base import ACTIVATION, GRADIENT, SCORE, Method, MethodOptions
from cvd_explorer.explain.options import option
from cvd_explorer.explain.smooth import SmoothOptions

Tensor = Any
"""A keras / TensorFlow tensor or a numpy array (keras ships no type information)."""

_EPS = 1e-7


@dataclass(frozen=True, kw_only=True)
class CAMOptions(MethodOptions):
    """Options of the CAMs computed in the engine's traced step (the gradient and activation families).

    Attributes:
        batch_size: images per pass (default 16).
        jit_compile: compile the traced step with XLA (off by default).
    """

    jit_compile: bool = False


@dataclass(frozen=True, kw_only=True)
class GradientCAMOptions(CAMOptions):
    """Options of a gradient CAM.

    Attributes:
        smooth: average the raw maps of ``smooth.samples`` noisy copies of each image (SmoothGrad
            applied to the CAM); None: no smoothing.
    """

    smooth: SmoothOptions | None = None


@dataclass(frozen=True, kw_only=True)
class ScoreCAMOptions(MethodOptions):
    """Options of the score family.

    Attributes:
        batch_size: masked copies per forward pass (default 16).
        top_k: channels probed per image (highest mean activation), at least 1 (default 32).
    """

    top_k: int = option(32, low=1)


class CAMMethod(Method):
    """Base class of every layer CAM (use a family base below)."""


class GradientCAM(CAMMethod):
    """Gradient family: ``cam = sum_k w_k A^k`` with weights from :meth:`weights`.

    A subclass overrides :meth:`weights` (or, for an element-wise map, :meth:`combine`).
    """

    family = GRADIENT
    Options: ClassVar[type[MethodOptions]] = GradientCAMOptions
    overrides = ("weights", "combine")

    def weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        """Per-channel weights ``(N, C)`` float32 from ``activations`` and ``gradients`` ``(N, h, w, C)``."""
        raise NotImplementedError

    def combine(self, activations: Tensor, gradients: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(raw map (N, h, w), channel weights (N, C))``."""
        w = self.weights(activations, gradients)
        return ops.einsum("nhwc,nc->nhw", activations, w), w


class ActivationCAM(CAMMethod):
    """Activation family: the map from the activations alone (no gradient, no extra pass)."""

    family = ACTIVATION
    Options: ClassVar[type[MethodOptions]] = CAMOptions
    overrides = ("combine",)

    def combine(self, activations: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(raw map (N, h, w), channel weights (N, C))`` from ``activations`` ``(N, h, w, C)``."""
        raise NotImplementedError


class ChannelScoreCAM(CAMMethod):
    """Score family: ``cam = sum_k w_k A^k`` with weights from channel scores the engine measured
    by masked forward passes (one layer at a time)."""

    family = SCORE
    per_layer = True
    Options: ClassVar[type[MethodOptions]] = ScoreCAMOptions
    overrides = ("weights",)

    def weights(self, channel_scores: Tensor) -> Tensor:
        """Per-channel weights ``(N, C)`` from the scores ``(N, C)`` (``-inf``: channel not probed)."""
        raise NotImplementedError

    def combine(self, activations: Tensor, channel_scores: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(raw map (N, h, w), channel weights (N, C))``."""
        w = self.weights(channel_scores)
        return ops.einsum("nhwc,nc->nhw", activations, w), w


class GradCAM(GradientCAM):
    """Selvaraju et al. 2017: ``w_k = (1/Z) sum_ij dY/dA^k_ij``."""

    def weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        return ops.mean(gradients, axis=(1, 2))


class GradCAMPlusPlus(GradientCAM):
    """Chattopadhay et al. 2018, with the exponential-score closed form (their eq. 19):

    ``alpha^kc_ij = g^2 / (2 g^2 + sum_ab A^k_ab * g^3)``, ``g = dY/dA^k_ij``,
    ``w_k = sum_ij alpha^kc_ij * ReLU(g)``; ``alpha = 0`` where ``g = 0``.
    """

    def weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        g = gradients
        g2 = g * g
        g3 = g2 * g
        sum_a = ops.sum(activations, axis=(1, 2), keepdims=True)
        denom = 2.0 * g2 + sum_a * g3
        nonzero = denom != 0
        alpha = ops.where(nonzero, g2 / ops.where(nonzero, denom, ops.ones_like(denom)), ops.zeros_like(g2))
        return ops.sum(alpha * ops.relu(g), axis=(1, 2))


class HiResCAM(GradientCAM):
    """Draelos & Carin 2020: ``cam_ij = sum_k dY/dA^k_ij * A^k_ij`` (element-wise, no averaging).

    Channel weights reported: the spatial mean of the gradient.
    """

    def combine(self, activations: Tensor, gradients: Tensor) -> tuple[Tensor, Tensor]:
        return ops.sum(gradients * activations, axis=-1), ops.mean(gradients, axis=(1, 2))


class XGradCAM(GradientCAM):
    """Fu et al. 2020: ``w_k = sum_ij (A^k_ij / sum_ab A^k_ab) * dY/dA^k_ij``."""

    def weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        sum_a = ops.sum(activations, axis=(1, 2))
        return ops.sum(activations * gradients, axis=(1, 2)) / (sum_a + _EPS)


class LayerCAM(GradientCAM):
    """Jiang et al. 2021: ``cam_ij = sum_k ReLU(dY/dA^k_ij) * A^k_ij``.

    Channel weights reported: the spatial mean of ``ReLU(G)``.
    """

    def combine(self, activations: Tensor, gradients: Tensor) -> tuple[Tensor, Tensor]:
        pos = ops.relu(gradients)
        return ops.sum(pos * activations, axis=-1), ops.mean(pos, axis=(1, 2))


class ScoreCAM(ChannelScoreCAM):
    """Wang et al. 2020: ``w_k = softmax_k(Y(X * norm(up(A^k))))`` over the chosen channels.

    The engine runs the masked forward passes and passes their target scores ``(N, C)``, with
    ``-inf`` for channels that were not probed (they get weight 0).
    """

    def weights(self, channel_scores: Tensor) -> Tensor:
        return ops.softmax(channel_scores, axis=-1)


class EigenCAM(ActivationCAM):
    """Muhammad & Yeasin 2020: projection of the activations on their first principal component.

    ``cam = (A - mean_ij A) v_1`` with ``v_1`` the first right singular vector of the ``(Z, C)``
    centred activations; its sign is chosen so the map correlates positively with the mean
    activation over channels. Channel weights reported: ``v_1`` with that sign.
    """

    def combine(self, activations: Tensor) -> tuple[Tensor, Tensor]:
        _, h, w, c = ops.shape(activations)
        flat = ops.reshape(activations, (-1, h * w, c))
        centred = flat - ops.mean(flat, axis=1, keepdims=True)
        _, _, vh = ops.svd(centred, full_matrices=False)
        v1 = vh[:, 0, :]
        proj = ops.einsum("nzc,nc->nz", centred, v1)
        mean_act = ops.mean(flat, axis=-1)
        corr = ops.sum(
            (proj - ops.mean(proj, axis=1, keepdims=True)) * (mean_act - ops.mean(mean_act, axis=1, keepdims=True)),
            axis=1,
        )
        sign = ops.where(corr < 0, -1.0, 1.0)
        return ops.reshape(proj * sign[:, None], (-1, h, w)), v1 * sign[:, None]
