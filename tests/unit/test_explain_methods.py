"""Each CAM method against its paper's formula, computed independently in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from cvd_explorer.explain import CAM_METHODS, compute_cams
from tests.unit.explain_fixtures import images, normalize, oracle_acts_grads, tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model("sigmoid", seed=1)


@pytest.fixture(scope="module")
def x():
    return images(3, seed=2)


def _engine(model, x, method, target="dog", layer="conv_b"):
    return compute_cams(model, x, layers=[layer], method=method, target=target, normalize=False, size="native")[layer]


def test_methods_listed_in_order():
    assert CAM_METHODS == ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "scorecam", "eigencam")


def test_gradcam_equals_zhou_cam_for_gap_linear_head():
    # conv -> GAP -> Dense(1, linear): dz/dA^k_ij = w_k / Z, so Grad-CAM = CAM / Z.
    model = tiny_model(None, seed=3)
    x = images(4, seed=4)
    A, _, _ = oracle_acts_grads(model, x, "conv_b")
    w = model.get_layer("predictions").kernel.numpy()[:, 0].astype(np.float64)
    zhou = np.einsum("nhwc,c->nhw", A, w)
    got = compute_cams(model, x, layers=["conv_b"], method="gradcam", target="dog", size="native")["conv_b"]
    assert np.abs(got - normalize(zhou)).max() < 1e-5
    assert got.max() == pytest.approx(1.0)


@pytest.mark.parametrize("layer", ["conv_a", "conv_b"])
def test_gradcam_formula(model, x, layer):
    A, G, _ = oracle_acts_grads(model, x, layer)
    expected = np.einsum("nhwc,nc->nhw", A, G.mean(axis=(1, 2)))
    np.testing.assert_allclose(_engine(model, x, "gradcam", layer=layer), expected, rtol=1e-4, atol=1e-6)


def test_gradcam_plus_plus_formula(model, x):
    A, G, _ = oracle_acts_grads(model, x, "conv_b")
    g2, g3 = G**2, G**3
    denom = 2 * g2 + A.sum(axis=(1, 2), keepdims=True) * g3
    alpha = np.where(denom != 0, g2 / np.where(denom != 0, denom, 1), 0)
    w = (alpha * np.maximum(G, 0)).sum(axis=(1, 2))
    expected = np.einsum("nhwc,nc->nhw", A, w)
    np.testing.assert_allclose(_engine(model, x, "gradcam++"), expected, rtol=1e-3, atol=1e-6)


def test_hirescam_formula(model, x):
    A, G, _ = oracle_acts_grads(model, x, "conv_b")
    np.testing.assert_allclose(_engine(model, x, "hirescam"), (A * G).sum(-1), rtol=1e-4, atol=1e-7)


def test_xgradcam_formula(model, x):
    A, G, _ = oracle_acts_grads(model, x, "conv_b")
    w = (A * G).sum(axis=(1, 2)) / (A.sum(axis=(1, 2)) + 1e-7)
    np.testing.assert_allclose(_engine(model, x, "xgradcam"), np.einsum("nhwc,nc->nhw", A, w), rtol=1e-3, atol=1e-6)


def test_layercam_formula(model, x):
    A, G, _ = oracle_acts_grads(model, x, "conv_b", sign=-1.0)
    expected = (np.maximum(G, 0) * A).sum(-1)
    np.testing.assert_allclose(_engine(model, x, "layercam", target="cat"), expected, rtol=1e-4, atol=1e-7)


def test_eigencam_first_principal_component(model, x):
    A, _, _ = oracle_acts_grads(model, x, "conv_b")
    got = _engine(model, x, "eigencam")
    for i in range(len(x)):
        flat = A[i].reshape(-1, A.shape[-1])
        centred = flat - flat.mean(0)
        proj = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
        if np.corrcoef(proj, flat.mean(-1))[0, 1] < 0:
            proj = -proj
        np.testing.assert_allclose(got[i].ravel(), proj, rtol=1e-3, atol=1e-4)


def test_scorecam_matches_masked_forward_passes(model, x):
    import cv2

    A, _, _ = oracle_acts_grads(model, x, "conv_b")
    got = _engine(model, x, "scorecam")
    dense = model.get_layer("predictions")
    sub = [model.get_layer(n) for n in ("rescale", "conv_a", "conv_b", "avg_pool")]
    for i in range(len(x)):
        masks = []
        for c in range(A.shape[-1]):  # 6 channels < top_k: every channel is probed
            up = cv2.resize(A[i, :, :, c].astype(np.float32), (16, 16), interpolation=cv2.INTER_LINEAR)
            masks.append((up - up.min()) / (up.max() - up.min()) if up.max() > up.min() else np.zeros_like(up))
        h = x[i][None] * np.stack(masks)[..., None]
        for layer in sub:
            h = layer(h)
        z = (np.asarray(h) @ dense.kernel.numpy() + dense.bias.numpy())[:, 0]
        w = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        np.testing.assert_allclose(got[i], np.einsum("hwc,c->hw", A[i], w), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("method", [m for m in CAM_METHODS if m != "scorecam"])
def test_every_method_normalized_in_unit_range(model, x, method):
    cams = compute_cams(model, x, method=method, target="dog")
    for cam in cams.values():
        assert cam.shape == (3, 16, 16) and cam.dtype == np.float32
        assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() <= 1 + 1e-6
