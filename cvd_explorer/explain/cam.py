"""The CAM family: one base class and one small class per method.

Every method sees a layer's activations ``A`` and (for gradient methods) the gradients ``G`` of
the target score with respect to them, both ``(N, h, w, C)`` float32, and returns a raw map
``(N, h, w)`` plus per-channel weights ``(N, C)``. Methods use ``keras.ops`` only, so they run
inside the engine's traced graph and equally on numpy arrays. ReLU, resizing and normalisation
belong to the engine, not to the methods.

Notation: ``k`` indexes channels, ``(i, j)`` positions, ``Z = h * w``, ``Y`` the target score.
"""

from __future__ import annotations

from typing import ClassVar

from keras import ops

from cvd_explorer.explain import names
from cvd_explorer.explain.errors import ExplainError

_EPS = 1e-7


class CAMMethod:
    """Base class: ``cam = sum_k w_k A^k`` with weights from :meth:`weights`.

    Attributes:
        name: the method's name in :data:`METHODS`.
        family: ``"gradient"`` (needs ``G``; one backward pass for all layers), ``"activation"``
            (activations only) or ``"score"`` (masked forward passes, one layer at a time).
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = "gradient"

    def weights(self, A, G):
        """Per-channel weights ``(N, C)`` float32."""
        raise NotImplementedError

    def combine(self, A, G):
        """Return ``(raw map (N, h, w), channel weights (N, C))``."""
        w = self.weights(A, G)
        return ops.einsum("nhwc,nc->nhw", A, w), w


class GradCAM(CAMMethod):
    """Selvaraju et al. 2017: ``w_k = (1/Z) sum_ij dY/dA^k_ij``."""

    name = "gradcam"

    def weights(self, A, G):
        return ops.mean(G, axis=(1, 2))


class GradCAMPlusPlus(CAMMethod):
    """Chattopadhay et al. 2018, with the exponential-score closed form (their eq. 19):

    ``alpha^kc_ij = g^2 / (2 g^2 + sum_ab A^k_ab * g^3)``, ``g = dY/dA^k_ij``,
    ``w_k = sum_ij alpha^kc_ij * ReLU(g)``; ``alpha = 0`` where ``g = 0``.
    """

    name = "gradcam++"

    def weights(self, A, G):
        g2 = G * G
        g3 = g2 * G
        sum_a = ops.sum(A, axis=(1, 2), keepdims=True)
        denom = 2.0 * g2 + sum_a * g3
        nonzero = denom != 0
        alpha = ops.where(nonzero, g2 / ops.where(nonzero, denom, ops.ones_like(denom)), ops.zeros_like(g2))
        return ops.sum(alpha * ops.relu(G), axis=(1, 2))


class HiResCAM(CAMMethod):
    """Draelos & Carin 2020: ``cam_ij = sum_k dY/dA^k_ij * A^k_ij`` (element-wise, no averaging).

    Channel weights reported: the spatial mean of the gradient.
    """

    name = "hirescam"

    def combine(self, A, G):
        return ops.sum(G * A, axis=-1), ops.mean(G, axis=(1, 2))


class XGradCAM(CAMMethod):
    """Fu et al. 2020: ``w_k = sum_ij (A^k_ij / sum_ab A^k_ab) * dY/dA^k_ij``."""

    name = "xgradcam"

    def weights(self, A, G):
        sum_a = ops.sum(A, axis=(1, 2))
        return ops.sum(A * G, axis=(1, 2)) / (sum_a + _EPS)


class LayerCAM(CAMMethod):
    """Jiang et al. 2021: ``cam_ij = sum_k ReLU(dY/dA^k_ij) * A^k_ij``.

    Channel weights reported: the spatial mean of ``ReLU(G)``.
    """

    name = "layercam"

    def combine(self, A, G):
        pos = ops.relu(G)
        return ops.sum(pos * A, axis=-1), ops.mean(pos, axis=(1, 2))


class ScoreCAM(CAMMethod):
    """Wang et al. 2020: ``w_k = softmax_k(Y(X * norm(up(A^k))))`` over the chosen channels.

    The engine runs the masked forward passes; here ``G`` holds those channel scores ``(N, C)``
    with ``-inf`` for channels that were not probed (they get weight 0).
    """

    name = "scorecam"
    family = "score"

    def weights(self, A, G):
        return ops.softmax(G, axis=-1)


class EigenCAM(CAMMethod):
    """Muhammad & Yeasin 2020: projection of the activations on their first principal component.

    ``cam = (A - mean_ij A) v_1`` with ``v_1`` the first right singular vector of the ``(Z, C)``
    centred activations; its sign is chosen so the map correlates positively with the mean
    activation over channels. Channel weights reported: ``v_1`` with that sign.
    """

    name = "eigencam"
    family = "activation"

    def combine(self, A, G=None):
        n, h, w, c = ops.shape(A)
        flat = ops.reshape(A, (-1, h * w, c))
        centred = flat - ops.mean(flat, axis=1, keepdims=True)
        _, _, vh = ops.svd(centred, full_matrices=False)
        v1 = vh[:, 0, :]
        proj = ops.einsum("nzc,nc->nz", centred, v1)
        mean_act = ops.mean(flat, axis=-1)
        corr = ops.sum((proj - ops.mean(proj, axis=1, keepdims=True)) * (mean_act - ops.mean(mean_act, axis=1, keepdims=True)), axis=1)
        sign = ops.where(corr < 0, -1.0, 1.0)
        return ops.reshape(proj * sign[:, None], (-1, h, w)), v1 * sign[:, None]


_CLASSES = (GradCAM, GradCAMPlusPlus, HiResCAM, XGradCAM, LayerCAM, ScoreCAM, EigenCAM)
METHODS: tuple[str, ...] = tuple(cls.name for cls in _CLASSES)
assert METHODS == names.METHODS, "cvd_explorer.explain.names.METHODS must list the classes above"
_BY_NAME = {cls.name: cls for cls in _CLASSES}


def get_method(name: str) -> CAMMethod:
    """The method instance for ``name`` (one of :data:`METHODS`)."""
    try:
        return _BY_NAME[name]()
    except (KeyError, TypeError):
        raise ExplainError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
