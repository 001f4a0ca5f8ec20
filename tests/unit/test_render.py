"""render: real pixel values of overlays, grids, strips and PNG bytes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cvd_explorer.render import apply_colormap, cam_overlay, colormap_lut, depth_strip, feature_grid, to_png


def _image(h=20, w=30):
    return np.random.RandomState(0).randint(0, 256, (h, w, 3)).astype(np.uint8)


def test_overlay_alpha_zero_is_the_image_and_alpha_one_the_colormap():
    img = _image()
    cam = np.random.RandomState(1).rand(20, 30).astype(np.float32)
    np.testing.assert_array_equal(cam_overlay(img, cam, alpha=0.0), img)
    heat = colormap_lut("jet")[np.round(cam * 255).astype(int)]
    np.testing.assert_array_equal(cam_overlay(img, cam, alpha=1.0, colormap="jet"), heat)
    np.testing.assert_array_equal(cam_overlay(img.astype(np.float32), cam, alpha=0.0), img)


def test_overlay_blends_and_resizes_the_cam():
    img = np.full((8, 8, 3), 100, np.uint8)
    cam = np.ones((2, 2), np.float32)  # resized to 8x8 -> all ones -> the colormap's top colour
    out = cam_overlay(img, cam, alpha=0.5, colormap="jet")
    top = colormap_lut("jet")[255].astype(float)
    np.testing.assert_allclose(out.astype(float), np.broadcast_to(0.5 * 100 + 0.5 * top, (8, 8, 3)), atol=1)
    assert out.dtype == np.uint8 and out.shape == (8, 8, 3)


def test_feature_grid_layout_order_and_labels():
    maps = np.zeros((4, 4, 5), np.float32)
    for c in range(5):
        maps[:, :, c] = c  # constant channels: mean order 4,3,2,1,0
    maps[3, 0, 2] = 100.0  # channel 2 has one hot pixel (bottom-left): strongest
    grid = feature_grid(maps, top_k=4, cell=16, pad=2, colormap="gray")
    assert grid.shape == (2 * 18 - 2, 2 * 18 - 2, 3) and grid.dtype == np.uint8
    lut = colormap_lut("gray")
    # cell 0 is channel 2: its hot pixel (bottom-left 4x4 block, below the label) is white, the rest black
    assert (grid[13:16, 0:4] == lut[255]).all() and (grid[13:16, 4:16] == lut[0]).all()
    # the others are constant channels: the colormap's zero, never NaN garbage; gaps stay black
    assert (grid[13:16, 28:34] == lut[0]).all() and (grid[16:18] == 0).all()


def test_feature_grid_draws_channel_indices_and_orders_by_weight():
    maps = np.random.RandomState(2).rand(6, 6, 3).astype(np.float32)
    plain = feature_grid(maps, top_k=1, cell=64, order="cam-weight", weights=np.array([0.0, 1.0, 0.5]))
    unit = (maps[:, :, 1] - maps[:, :, 1].min()) / np.ptp(maps[:, :, 1])
    expected = cv2.resize(unit, (64, 64), interpolation=cv2.INTER_NEAREST)
    expected = apply_colormap(expected, "viridis")
    differs = np.any(plain != expected, axis=-1)
    assert differs[:20, :20].any() and not differs[32:, 32:].any()  # label top-left only
    with pytest.raises(ValueError, match=r"weights of shape \(3,\)"):
        feature_grid(maps, order="cam-weight")


def test_depth_strip_picks_evenly_spaced_layers():
    img = _image(32, 32)
    cams = {f"layer{i}": np.full((4, 4), i / 9, np.float32) for i in range(10)}
    strip = depth_strip(img, cams, n=4, cell=32, alpha=1.0, colormap="gray", title_height=10)
    assert strip.shape == (42, 4 * 32, 3)
    lut = colormap_lut("gray")
    shown = [int(round(v * 255)) for v in (0 / 9, 3 / 9, 6 / 9, 9 / 9)]
    for k, level in enumerate(shown):
        assert (strip[10:, k * 32 : (k + 1) * 32] == lut[level]).all()
    assert strip[:10].any()  # titles drawn


def test_to_png_roundtrip_keeps_rgb_order():
    img = _image()
    decoded = cv2.imdecode(np.frombuffer(to_png(img), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(decoded[..., ::-1], img)
    assert to_png(img)[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="uint8"):
        to_png(img.astype(np.float32))
