"""`cvd-explorer cam` end to end on a tiny saved model."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from cvd_explorer.cli import main
from tests.unit.explain_fixtures import tiny_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_model("sigmoid", seed=20).save(path)
    return path


@pytest.fixture()
def image_files(tmp_path):
    rng = np.random.RandomState(21)
    paths = []
    for i, size in enumerate(((40, 30), (16, 16))):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.randint(0, 256, (*size, 3)).astype(np.uint8)).save(p)
        paths.append(str(p))
    return paths


def test_cam_all_layers_writes_overlays_strip_and_maps(model_file, image_files, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["cam", "--model", str(model_file), "--all", "--method", "layercam", "--target", "dog", "--out", str(out)]
    for p in image_files:
        argv += ["--image", p]
    assert main(argv) == 0
    assert "img0.png: " in capsys.readouterr().out
    for stem in ("img0", "img1"):
        for layer in ("conv_a", "conv_b"):
            overlay = cv2.imread(str(out / f"{stem}_{layer}.png"))
            assert overlay.shape == (16, 16, 3)
        strip = cv2.imread(str(out / f"{stem}_depth.png"))
        assert strip.shape[1] == 2 * 128
        maps = np.load(out / f"{stem}.npz")
        assert maps["conv_b"].shape == (16, 16) and maps["conv_b"].min() >= 0 and maps["conv_b"].max() <= 1
        assert 0 < float(maps["prob"]) < 1
    report = json.loads((out / "cam.json").read_text())
    assert report["layers"] == ["conv_a", "conv_b"] and len(report["images"]) == 2


def test_cam_default_layer_is_the_last_conv(model_file, image_files, tmp_path):
    out = tmp_path / "out"
    assert main(["cam", "--model", str(model_file), "--image", image_files[0], "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cam.json", "img0.npz", "img0_conv_b.png"]


def test_cam_user_errors_are_one_line(model_file, image_files, tmp_path, capsys):
    h5 = tmp_path / "old.h5"
    h5.write_bytes(b"\x89HDF")
    assert main(["cam", "--model", str(h5), "--image", image_files[0], "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and ".h5" in err and err.count("\n") == 1
    out = ["--out", str(tmp_path / "o")]
    assert main(["cam", "--model", str(model_file), "--image", image_files[0], "--layers", "nope", *out]) == 2
    assert "no layer named 'nope'" in capsys.readouterr().err
    assert main(["cam", "--model", str(model_file), "--image", str(tmp_path / "missing.png"), *out]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "integrated-gradients", "guided-backprop"])
def test_pixel_methods_write_their_map_and_attributions(model_file, image_files, tmp_path, capsys, method):
    out = tmp_path / "out"
    extra = {"integrated-gradients": ["--steps", "16", "--baseline", "blur"],
             "smoothgrad": ["--samples", "4", "--noise", "0.1", "--seed", "3"]}.get(method, [])
    argv = ["cam", "--model", str(model_file), "--image", image_files[0], "--image", image_files[1],
            "--method", method, "--out", str(out), *extra]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for stem in ("img0", "img1"):
        assert cv2.imread(str(out / f"{stem}_{method}.png")).shape == (16, 16, 3)
        arrays = np.load(out / f"{stem}.npz")
        assert arrays[method].shape == (16, 16) and arrays[method].max() == pytest.approx(1.0)
        assert arrays["attribution"].shape == (16, 16, 3)
    report = json.loads((out / "cam.json").read_text())
    assert report["layers"] == [method]
    if method == "integrated-gradients":
        assert report["options"] == {"steps": 16, "baseline": "blur"}
        gaps = [e["completeness_gap"] for e in report["images"]]
        assert all(g >= 0 for g in gaps) and "completeness gap" in printed
    else:
        assert "completeness_gap" not in report["images"][0]


def test_guided_gradcam_uses_the_layers(model_file, image_files, tmp_path):
    out = tmp_path / "out"
    argv = ["cam", "--model", str(model_file), "--image", image_files[0], "--method", "guided-gradcam", "--all",
            "--out", str(out)]
    assert main(argv) == 0
    maps = np.load(out / "img0.npz")
    assert maps["conv_a"].shape == maps["conv_b"].shape == (16, 16)
    assert not np.allclose(maps["conv_a"], maps["conv_b"])


@pytest.mark.parametrize(("extra", "message"), [
    (["--method", "saliency", "--steps", "8"], "--steps: saliency takes no option"),
    (["--method", "gradcam", "--samples", "8"], "--samples: gradcam takes no option flag"),
    (["--method", "integrated-gradients", "--steps", "0"], "steps must be an integer >= 1"),
    (["--method", "smoothgrad", "--noise", "-1"], "noise must be a number >= 0"),
    (["--method", "saliency", "--all"], "takes no --layers or --all"),
])
def test_pixel_options_are_validated(model_file, image_files, tmp_path, capsys, extra, message):
    argv = ["cam", "--model", str(model_file), "--image", image_files[0], "--out", str(tmp_path / "o"), *extra]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
