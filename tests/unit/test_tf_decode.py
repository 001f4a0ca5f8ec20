"""In-graph decoding: which files take which route, and the pixels equal the loader's exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cvd_explorer.data.loader import load_image
from cvd_explorer.data.tf_decode import JPEG, PILLOW, PNG, file_route, make_decoder, nearest_indices, plan_decoding

from .data_fixtures import save
from .image_fixtures import photo


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _extraneous_bytes(path):
    """A JPEG with junk before its end marker (libjpeg warns, both decoders go on)."""
    data = path.read_bytes()
    path.write_bytes(data[:-2] + b"\x00" * 37 + data[-2:])


def _files(root):
    """(file, expected route) for every kind of image the scanner accepts."""
    rgb = photo(40, 56, 1)
    cases = []

    def add(name, route, write):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        cases.append((path, route))

    for i, (q, sub, prog) in enumerate([(90, 2, False), (75, 0, False), (95, 1, True), (60, 2, True)]):
        h, w = (375, 500) if i % 2 else (333, 301)
        add(f"photo{i}.jpg", JPEG, lambda p, q=q, s=sub, g=prog, h=h, w=w, i=i: Image.fromarray(photo(h, w, i)).save(
            p, "JPEG", quality=q, subsampling=s, progressive=g))
    add("grey.jpg", JPEG, lambda p: Image.fromarray(rgb[..., 0]).save(p, "JPEG"))
    add("upright-exif.jpg", JPEG, lambda p: Image.fromarray(rgb).save(p, "JPEG", exif=_exif(1)))
    add("junk-before-eoi.jpg", JPEG, lambda p: (save(p, rgb, "JPEG"), _extraneous_bytes(p)))
    add("rgb.png", PNG, lambda p: save(p, rgb))
    add("grey.png", PNG, lambda p: save(p, rgb[..., 0]))
    add("rotated.jpg", PILLOW, lambda p: Image.fromarray(rgb).save(p, "JPEG", exif=_exif(6)))
    add("cmyk.jpg", PILLOW, lambda p: Image.fromarray(rgb).convert("CMYK").save(p, "JPEG"))
    add("bmp-named.jpg", PILLOW, lambda p: save(p, rgb, "BMP"))
    add("rgba.png", PILLOW, lambda p: save(p, np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])))
    add("palette.png", PILLOW, lambda p: Image.fromarray(rgb).convert("P").save(p))
    add("sixteen.png", PILLOW, lambda p: Image.fromarray((np.arange(40 * 56).reshape(40, 56) * 29).astype(
        np.uint16)).save(p))
    add("trns.png", PILLOW, lambda p: Image.fromarray(rgb).save(p, transparency=(0, 0, 0)))
    add("exif.png", PILLOW, lambda p: Image.fromarray(rgb).save(p, exif=_exif(8)))
    add("one-bit.png", PILLOW, lambda p: Image.fromarray(rgb[..., 0] > 128).save(p))
    add("anim.gif", PILLOW, lambda p: Image.fromarray(rgb).convert("P").save(
        p, save_all=True, append_images=[Image.fromarray(255 - rgb).convert("P")]))
    add("empty.jpg", PILLOW, lambda p: p.write_bytes(b""))
    return cases


def test_each_file_takes_the_route_its_header_allows(tmp_path):
    for path, route in _files(tmp_path):
        assert file_route(path)[0] == route, path.name
    assert file_route(tmp_path / "missing.jpg") == (PILLOW, 0, 0)
    assert file_route(tmp_path / "photo0.jpg") == (JPEG, 333, 301)
    assert file_route(tmp_path / "photo0.jpg", max_pixels=1000)[0] == PILLOW  # the loader refuses it


@pytest.mark.parametrize("size", [224, 24, 56])  # up, down, and the stored width
def test_one_dataset_of_mixed_routes_gives_the_loaders_pixels_exactly(tmp_path, size):
    cases = [(p, r) for p, r in _files(tmp_path) if p.name != "empty.jpg"]
    paths = [str(p) for p, _ in cases]
    plan = plan_decoding(paths)
    assert [int(r) for r in plan.routes] == [r for _, r in cases]
    decode = make_decoder(plan, size)
    ds = tf.data.Dataset.range(len(paths)).map(decode, num_parallel_calls=2, deterministic=True)
    for path, got in zip(paths, ds.as_numpy_iterator(), strict=True):
        assert got.dtype == np.uint8 and got.shape == (size, size, 3)
        np.testing.assert_array_equal(got, load_image(path, size=(size, size)), err_msg=path)  # bound: 0 levels


def test_a_graph_without_pillow_files_runs_no_python(tmp_path):
    paths = [str(save(tmp_path / f"{i}.jpg", photo(30 + i, 50, i), "JPEG")) for i in range(3)]
    decode = make_decoder(plan_decoding(paths), 16)
    graph = tf.function(decode).get_concrete_function(tf.TensorSpec([], tf.int64)).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "DecodeJpeg" in kinds and not {"PyFunc", "EagerPyFunc", "PyFuncStateless"} & kinds


def test_a_file_that_changed_since_the_plan_is_named(tmp_path):
    path = save(tmp_path / "a.jpg", photo(30, 40), "JPEG")
    decode = make_decoder(plan_decoding([str(path)]), 16)
    save(path, photo(31, 40), "JPEG")
    with pytest.raises(tf.errors.InvalidArgumentError, match="decoded size differs from the header"):
        decode(tf.constant(0, tf.int64))


def test_nearest_tables_are_pillows_resize():
    rng = np.random.default_rng(3)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(1, 600, 2))
        side = int(rng.integers(2, 300))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected = np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.NEAREST))
        np.testing.assert_array_equal(image[nearest_indices(h, side)][:, nearest_indices(w, side)], expected)


def test_tensorflows_default_idct_is_not_the_loaders():
    """Why the JPEG route asks for INTEGER_ACCURATE: the default differs from Pillow."""
    buf = io.BytesIO()
    Image.fromarray(photo(64, 64)).save(buf, "JPEG", quality=90)
    pil = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    accurate = tf.io.decode_jpeg(buf.getvalue(), channels=3, dct_method="INTEGER_ACCURATE").numpy()
    np.testing.assert_array_equal(accurate, pil)
    assert not np.array_equal(tf.io.decode_jpeg(buf.getvalue(), channels=3).numpy(), pil)

