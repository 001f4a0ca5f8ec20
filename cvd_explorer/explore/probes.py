"""Reading a run's probes (``RUN/probes/``) for the TrainingPanel, the Explorer and the report.

A :class:`ProbeHistory` lists the epochs written so far (the folder is re-read on each call, so
a training in progress shows up), loads the probe images once and composes the views with
:mod:`cvd_explorer.render`. Nothing here runs a model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cvd_explorer import render
from cvd_explorer.errors import RunError
from cvd_explorer.runs import folder
from cvd_explorer.runs import probes as probe_files
from cvd_explorer.runs.probes import ProbeSpec

GRID_IMAGES = 4
GRID_LAYERS = 4
GRID_CELL = 72


class ProbeHistory:
    """The probes of one run folder.

    Args:
        out: the run directory.
        spec: its ``probes/probes.json``.
        data_root: the folder of the images (default: the one ``config.json`` records).
    """

    def __init__(self, out: Path, spec: ProbeSpec, data_root: Path | None = None) -> None:
        self.out = out
        self.spec = spec
        self.data_root = data_root if data_root is not None else (folder.recorded_data_root(out) or out)
        self._images: dict[int, np.ndarray] = {}
        self._maps: tuple[int, dict[str, np.ndarray]] | None = None

    @classmethod
    def open(cls, out: str | os.PathLike[str], data_root: str | os.PathLike[str] | None = None) -> ProbeHistory | None:
        """The probes of the run in ``out``, or None when it has none (yet, or ever).

        Raises:
            RunError: ``probes/probes.json`` is damaged.
        """
        path = Path(out).expanduser().absolute()
        spec = probe_files.read_spec(path)
        if spec is None:
            return None
        return cls(path, spec, None if data_root is None else Path(data_root))

    # ----------------------------------------------------------------- what there is
    @property
    def epochs(self) -> list[int]:
        """Epochs with a probe file, ascending (re-read from the folder)."""
        return probe_files.probe_epochs(self.out)

    @property
    def latest(self) -> int | None:
        """The last epoch with a probe file, or None."""
        found = self.epochs
        return found[-1] if found else None

    @property
    def layers(self) -> tuple[str, ...]:
        """The block outputs recorded, in depth order."""
        return self.spec.layers

    def index_of(self, key: str | os.PathLike[str]) -> int | None:
        """The probe index of an image given by absolute path or manifest path, or None."""
        text = Path(key).as_posix()
        root = self.data_root.expanduser().absolute().as_posix().rstrip("/") + "/"
        rel = text[len(root):] if text.startswith(root) else text
        try:
            return self.spec.images.index(rel)
        except ValueError:
            return None

    # ----------------------------------------------------------------- arrays
    def maps(self, epoch: int) -> dict[str, np.ndarray]:
        """``{layer: (N, h, w) float32}`` of one epoch (the last epoch read is kept).

        Raises:
            RunError: no probe file for ``epoch`` (or a damaged one).
        """
        if self._maps is not None and self._maps[0] == epoch:
            return self._maps[1]
        try:
            raw = probe_files.read_epoch(self.out, epoch)
        except FileNotFoundError:
            raise RunError(f"{probe_files.epoch_file(self.out, epoch)} does not exist: epochs with probes are "
                           f"{self.epochs or 'none yet'}") from None
        maps = {name: np.asarray(raw[name], np.float32) for name in self.layers if name in raw}
        self._maps = (epoch, maps)
        return maps

    def cam(self, index: int, layer: str, epoch: int) -> np.ndarray:
        """float32 ``(h, w)`` map in [0, 1] of probe ``index`` at ``layer`` after ``epoch``."""
        maps = self.maps(epoch)
        if layer not in maps:
            raise RunError(f"the probes have no layer {layer!r}; they record {', '.join(self.layers)}")
        cam: np.ndarray = np.clip(np.nan_to_num(maps[layer][index]), 0.0, 1.0)
        return cam

    def image(self, index: int) -> np.ndarray:
        """uint8 ``(S, S, 3)`` pixels of probe ``index`` at the model's input size (grey if unreadable)."""
        if index not in self._images:
            from cvd_explorer.data.loader import ImageLoadError, load_image

            size = self.spec.image_size
            try:
                self._images[index] = load_image(self.data_root / self.spec.images[index], size=(size, size))
            except ImageLoadError:
                self._images[index] = np.full((size, size, 3), 128, np.uint8)
        return self._images[index]

    def title(self, index: int) -> str:
        """``"cat.12.jpg (cat)"``."""
        return f"{self.spec.images[index].rsplit('/', 1)[-1]} ({self.spec.labels[index]})"

    def pick(self, per_class: int = 1) -> list[int]:
        """Probe indexes, ``per_class`` of each class in probe order (the report's two probes)."""
        chosen: list[int] = []
        for label in dict.fromkeys(self.spec.labels):
            chosen += [i for i, lab in enumerate(self.spec.labels) if lab == label][:per_class]
        return sorted(chosen)


def usable_layers(history: ProbeHistory) -> list[str]:
    """The recorded layers whose maps are larger than 1x1 (a 1x1 map localises nothing)."""
    shapes = dict(zip(history.spec.layers, history.spec.shapes, strict=True))
    found = [name for name in history.layers if shapes[name] != (1, 1)]
    return found or list(history.layers)


def probe_grid(
    history: ProbeHistory, epoch: int, images: int = GRID_IMAGES, layers: int = GRID_LAYERS, cell: int = GRID_CELL
) -> np.ndarray:
    """The TrainingPanel's view: rows of probes, columns of block outputs, after ``epoch``.

    Returns:
        RGB uint8 ``(rows * (18 + cell), columns * cell, 3)``: per probe a
        :func:`cvd_explorer.render.depth_strip` over ``layers`` block outputs evenly spaced.
    """
    names = render.pick_evenly(usable_layers(history), layers)
    rows = []
    for index in range(min(images, len(history.spec.images))):
        cams = {name: history.cam(index, name, epoch) for name in names}
        rows.append(render.depth_strip(history.image(index), cams, n=len(names), cell=cell, alpha=0.5))
    return np.concatenate(rows, axis=0)


def epoch_view(history: ProbeHistory, index: int, layer: str, epoch: int, display: np.ndarray | None = None,
               alpha: float = 0.4) -> np.ndarray:
    """The Explorer's view: probe ``index``'s map at ``layer`` after ``epoch`` over the image.

    Args:
        display: the image at display size (default: the probe image scaled by
            :func:`cvd_explorer.explore.views.display_image`).

    Returns:
        RGB uint8 ``(H, W, 3)``.
    """
    from cvd_explorer.explore.views import display_image

    base = display if display is not None else display_image(history.image(index))
    return render.cam_overlay(base, history.cam(index, layer, epoch), alpha=float(alpha))


def epoch_cells(
    history: ProbeHistory, index: int, layer: str, epochs: Sequence[int], cell: int = 96
) -> list[tuple[np.ndarray, str]]:
    """Overlays of one probe at one layer after each of ``epochs``, titled ``"epoch e"`` (the report's rows)."""
    import cv2

    image = cv2.resize(history.image(index), (cell, cell), interpolation=cv2.INTER_AREA)
    return [(render.cam_overlay(image, history.cam(index, layer, e), alpha=0.5), f"epoch {e}") for e in epochs]


def pick_epochs(epochs: Sequence[int], n: int = 8) -> list[int]:
    """``n`` epochs evenly spaced from the first to the last (all of them when there are fewer)."""
    return [int(e) for e in render.pick_evenly([str(e) for e in epochs], n)]
