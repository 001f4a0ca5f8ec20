"""The one image loader: formats by content, conversions, rejections with reason codes."""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from cvd_explorer.data.loader import ImageLoadError, load_image, read_image_size
from tests.unit.data_fixtures import bad_files, blocks, bomb_png, save

REPO = Path(__file__).resolve().parents[2]


def reason_of(path, **kwargs) -> str:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)
    assert info.value.path == str(path)
    assert info.value.message and str(path) in str(info.value)
    return info.value.reason


def test_png_exact_pixels(tmp_path):
    arr = blocks()
    out = load_image(save(tmp_path / "a.png", arr))
    assert out.dtype == np.uint8 and out.shape == (16, 24, 3)
    np.testing.assert_array_equal(out, arr)


def test_bmp_named_jpg_is_accepted(tmp_path):
    arr = blocks()
    out = load_image(save(tmp_path / "x.jpg", arr, "BMP"))
    np.testing.assert_array_equal(out, arr)


def test_jpeg_close_to_source(tmp_path):
    out = load_image(save(tmp_path / "a.jpg", blocks(32, 32), quality=95))
    assert np.abs(out.astype(int) - blocks(32, 32)).mean() < 10  # chroma blur at block edges only
    np.testing.assert_array_equal(out, np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB")))
    np.testing.assert_allclose(out[4, 4], (255, 0, 0), atol=6)


def test_jpeg_with_trailing_garbage_and_broken_exif_is_accepted(tmp_path):
    path = save(tmp_path / "a.jpg", blocks(32, 32), quality=95)
    data = path.read_bytes()
    broken_exif = b"\xff\xe1" + (2 + 6 + 10).to_bytes(2, "big") + b"Exif\x00\x00" + b"II*\x00\xff\xff\xff\xff\x00\x00"
    path.write_bytes(data[:2] + broken_exif + data[2:] + b"garbage after the end")
    out = load_image(path)
    np.testing.assert_allclose(out[4, 4], (255, 0, 0), atol=6)


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)
    out = load_image(path)
    assert out.shape == (16, 16, 3)
    np.testing.assert_allclose(out[8, 8], (255, 0, 0), atol=3)


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    rgba[0, 1] = (0, 0, 0, 0)
    rgba[0, 2] = (0, 0, 0, 128)
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = load_image(path)
    assert tuple(out[0, 0]) == (10, 20, 30)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[0, 2]) == (127, 127, 127)


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([0, 255, 0, 200, 0, 0] + [0] * (254 * 3))
    im.putpixel((1, 0), 1)
    path = tmp_path / "p.png"
    im.save(path, transparency=0)
    out = load_image(path)
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[0, 1]) == (200, 0, 0)


def test_sixteen_bit_grey_scaled(tmp_path):
    values = np.array([[65535, 32896], [0, 257]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    out = load_image(path)
    np.testing.assert_array_equal(out[..., 0], [[255, 128], [0, 1]])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_grey_and_bilevel(tmp_path):
    grey = np.array([[0, 100], [200, 255]], np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "l.png")
    out = load_image(tmp_path / "l.png")
    np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, axis=2))
    Image.fromarray(grey > 128).save(tmp_path / "b.png")
    np.testing.assert_array_equal(load_image(tmp_path / "b.png")[..., 1], [[0, 0], [255, 255]])


def test_gif_first_frame(tmp_path):
    red = Image.new("RGB", (8, 8), (255, 0, 0))
    blue = Image.new("RGB", (8, 8), (0, 0, 255))
    path = tmp_path / "anim.gif"
    red.save(path, save_all=True, append_images=[blue], duration=100)
    assert Image.open(path).n_frames == 2
    out = load_image(path)
    assert (out == (255, 0, 0)).all()


def test_exif_orientation_6(tmp_path):
    arr = blocks(16, 32)  # stored 16 high, 32 wide; red in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    path = save(tmp_path / "rot.jpg", arr, quality=95, exif=exif.tobytes())
    out = load_image(path)
    assert out.shape == (32, 16, 3)
    np.testing.assert_allclose(out[2, 13], (255, 0, 0), atol=8)  # top-left went top-right
    np.testing.assert_allclose(out[29, 13], (0, 255, 0), atol=8)  # top-right went bottom-right
    assert read_image_size(path) == (32, 16)


def test_resize_squashes_nearest(tmp_path):
    path = save(tmp_path / "a.png", blocks(16, 24))
    out = load_image(path, size=(8, 4))
    assert out.shape == (8, 4, 3)
    expected = np.asarray(Image.fromarray(blocks(16, 24)).resize((4, 8), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(out, expected)
    assert load_image(path, size=5).shape == (5, 5, 3)
    with pytest.raises(ValueError):
        load_image(path, size=0)


@pytest.mark.parametrize(
    "name", ["empty.jpg", "truncated.jpg", "random.jpg", "text.png", "tiff.tif", "bomb.png"]
)
def test_bad_files_reason_codes(tmp_path, name):
    expected = bad_files(tmp_path)
    assert reason_of(tmp_path / name) == expected[name]


def test_tiff_named_jpg_and_webp_unsupported(tmp_path):
    assert reason_of(save(tmp_path / "t.jpg", fmt="TIFF")) == "unsupported"
    assert reason_of(save(tmp_path / "w.webp", fmt="WEBP")) == "unsupported"


def test_bomb_refused_before_decoding(tmp_path):
    path = bomb_png(tmp_path / "b.png", 10_000, 5_000)  # 50 M pixels: under PIL's own limit
    start = time.perf_counter()
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert info.value.reason == "too-large" and "50,000,000" in info.value.message
    assert time.perf_counter() - start < 1.0
    assert reason_of(bomb_png(tmp_path / "c.png")) == "too-large"  # PIL's bomb error path
    assert reason_of(save(tmp_path / "ok.png"), max_pixels=100) == "too-large"


def test_truncated_setting_untouched(tmp_path):
    bad_files(tmp_path)
    with pytest.raises(ImageLoadError):
        load_image(tmp_path / "truncated.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_missing_file_unreadable(tmp_path):
    assert reason_of(tmp_path / "nope.jpg") == "unreadable"
    (tmp_path / "dir.jpg").mkdir()
    assert reason_of(tmp_path / "dir.jpg") == "unreadable"


def test_permission_denied_unreadable(tmp_path, monkeypatch):
    path = save(tmp_path / "locked.jpg")
    if os.geteuid() == 0:  # root reads anything: simulate the permission error
        real_open = builtins.open

        def fake_open(file, *args, **kwargs):
            if os.fspath(file) == os.fspath(path):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)
    else:
        path.chmod(0)
    try:
        assert reason_of(path) == "unreadable"
    finally:
        path.chmod(0o644)


def test_error_pickles_and_is_data_error(tmp_path):
    from cvd_explorer.errors import DataError

    err = ImageLoadError(tmp_path / "x.jpg", "corrupt", "broken")
    clone = pickle.loads(pickle.dumps(err))
    assert isinstance(clone, DataError)
    assert (clone.path, clone.reason, clone.message) == (err.path, "corrupt", "broken")
    with pytest.raises(ValueError):
        ImageLoadError("x", "weird", "no such code")


def test_read_image_size(tmp_path):
    assert read_image_size(save(tmp_path / "a.png", blocks(16, 24))) == (16, 24)
    with pytest.raises(ImageLoadError):
        read_image_size(bomb_png(tmp_path / "b.png"))


def test_data_package_imports_without_tensorflow():
    code = (
        "import sys, cvd_explorer.data, cvd_explorer.cli.scan, cvd_explorer.cli.split; "
        "bad = [m for m in ('tensorflow', 'keras', 'ipywidgets') if m in sys.modules]; "
        "sys.exit(repr(bad) if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
