"""Relative depth across ResNets of different depth: a layer's stage from its name, the layer at a depth.

Pure functions on layer names; importing this module imports neither Keras nor NumPy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_STAGE = re.compile(r"^conv(\d+)_")


def stage_of(layer_name: str) -> int | None:
    """ResNet stage (1-5) from a Keras-style layer name such as ``conv4_block3_2_conv``, else None."""
    match = _STAGE.match(layer_name)
    return int(match.group(1)) if match else None


def layer_at_depth(layers: Sequence[str], depth: float) -> str:
    """The layer at relative depth ``depth`` in [0, 100], stage first.

    With ResNet names (``convN_...``) the range is cut into one equal share per stage, so two
    ResNets of different depth show layers of the same stage (the same resolution); within the
    stage the relative position picks the layer (ResNet50's conv4 has 19 conv layers, ResNet101's
    70). Layers without stage names map by relative position alone.

    Args:
        layers: layer names, input to output.
        depth: relative depth in percent; values outside [0, 100] are clipped.
    """
    if not layers:
        raise ValueError("no layers to choose from")
    t = min(max(float(depth) / 100.0, 0.0), 1.0)
    stages: dict[int, list[str]] = {}
    for name in layers:
        stage = stage_of(name)
        if stage is None:
            return layers[round(t * (len(layers) - 1))]
        stages.setdefault(stage, []).append(name)
    order = sorted(stages)
    position = t * len(order)
    stage_index = min(int(position), len(order) - 1)
    within = stages[order[stage_index]]
    fraction = min(position - stage_index, 1.0)
    return within[round(fraction * (len(within) - 1))]
