"""The Explorer's epoch slider on the probe images of a run with probes (and why it is off elsewhere)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvd_explorer.explore.probes import ProbeHistory, epoch_view
from cvd_explorer.widgets import Explorer
from cvd_explorer.widgets.explorer_probes import NOT_A_PROBE
from tests.widgets.helpers import tiny_model
from tests.widgets.training_fixtures import synthetic_data, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 3-epoch run with 4 probes."""
    import keras

    from cvd_explorer.runs import train

    base = tmp_path_factory.mktemp("explorer-probes")
    data = synthetic_data(base / "data")
    run = train(tiny_config(epochs=3), data, base / "run", progress=False, probes=4)
    keras.backend.clear_session()
    return run.path


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_epoch_slider_follows_a_probe_through_training(probe_run: Path) -> None:
    history = ProbeHistory.open(probe_run)
    assert history is not None and history.epochs == [1, 2, 3]
    ex = Explorer(probe_run, background=False)
    probe_key = str(history.data_root / history.spec.images[1])
    ex.sample = probe_key
    ex.layer_kind.value = "blocks"
    layer = history.layers[0]  # the largest maps: epochs differ visibly
    ex.layer.value = layer
    slider = ex.probes.epoch
    assert not slider.disabled and (slider.min, slider.max, slider.value) == (1, 3, 3) and ex.probes.note.value == ""
    shown = {}
    for epoch in (1, 2, 3):
        slider.value = epoch
        shown[epoch] = _pixels(bytes(ex.probes.image.value))
        np.testing.assert_array_equal(shown[epoch], epoch_view(history, 1, layer, epoch))  # that epoch's map
    assert not np.array_equal(shown[1], shown[3])

    ex.layer_kind.value = "conv"  # probes record block outputs only
    assert slider.disabled and "block outputs" in ex.probes.note.value and ex.probes.image.value == b""
    ex.layer_kind.value = "blocks"
    others = [k for k in ex.samples if history.index_of(k) is None]
    ex.sample = others[0]
    assert slider.disabled and "not a probe image" in ex.probes.note.value and NOT_A_PROBE.startswith("not a probe")
    ex.close()


def test_no_slider_for_arrays() -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    ex = Explorer(model=tiny_model(), images=images, background=False)
    assert ex.probes.widget.layout.display == "none" and ex.probes.epoch.disabled
    ex.close()
