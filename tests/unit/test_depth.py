"""Relative depth across ResNets: the same depth picks layers of the same stage."""

from __future__ import annotations

import subprocess
import sys

from cvd_explorer.depth import layer_at_depth, stage_of
from cvd_explorer.models import build, conv_layers


def test_relative_depth_maps_stage_first():
    r50 = conv_layers(build("resnet50", 64))
    r101 = conv_layers(build("resnet101", 64))
    assert layer_at_depth(r50, 0) == layer_at_depth(r101, 0) == "conv1_conv"
    assert layer_at_depth(r50, 100) == layer_at_depth(r101, 100) == "conv5_block3_3_conv"
    for depth in range(0, 101, 5):
        a, b = layer_at_depth(r50, depth), layer_at_depth(r101, depth)
        assert stage_of(a) == stage_of(b), depth  # same stage, same resolution
    # the middle of stage 4 is block ~3 of 6 in ResNet50 and block ~12 of 23 in ResNet101
    mid4 = 100 * 3.5 / 5
    assert layer_at_depth(r50, mid4).startswith("conv4_block")
    assert int(layer_at_depth(r101, mid4).split("_")[1][5:]) > int(layer_at_depth(r50, mid4).split("_")[1][5:])
    assert layer_at_depth(["a", "b", "c"], 50) == "b"  # no stage names: relative position


def test_stage_of_reads_resnet_names_only():
    assert [stage_of(n) for n in ("conv1_conv", "conv4_block3_2_conv", "dense", "myconv2_x")] == [1, 4, None, None]


def test_depth_module_is_light():
    code = "import sys, cvd_explorer.depth; print(sorted({'keras', 'numpy', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
