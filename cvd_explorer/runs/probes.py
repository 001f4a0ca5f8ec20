"""Probes: the CAMs of a few fixed test images at every residual block output, after every epoch.

Files (the contract is in docs/run-directory.md, "Probes"):

* ``config.json`` key ``"probes"``: ``{"images": [relpath, ...]}``, the record of the setting,
  written when the run starts. A run whose ``config.json`` has no such key (started before probes
  existed) or an empty list has no probes, also after a resume.
* ``probes/probes.json``: ``{"schema_version", "method", "images", "labels", "splits", "layers",
  "shapes", "image_size"}``, written before the first probe file.
* ``probes/epoch-<eeee>.npz``: one float16 ``(N, h, w)`` array per block output, named by the
  layer, values in [0, 1] (Grad-CAM at the layer's own resolution, ReLU'd, each map scaled to a
  peak of 1); nothing else in the file.

Order: the probe file of epoch e is written *before* the epoch's commit (``last/state.json``),
so every committed epoch has its file; on resume the files of uncommitted epochs are removed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvd_explorer.errors import RunError
from cvd_explorer.fileio import load_json, read_npz, remove_strays, write_json, write_npz
from cvd_explorer.runs import files

if TYPE_CHECKING:
    from cvd_explorer.data.split import Manifest, ManifestRow

DEFAULT_PROBES = 8
"""Probe images of a new run unless told otherwise."""
SCHEMA_VERSION = 1
METHOD = "gradcam"
SPEC_FILE = files.PROBES_SPEC
META_KEY = "probes"
PathList = Sequence[str | os.PathLike[str]]
_EPOCH_FILE = re.compile(r"^epoch-(\d{4,})\.npz$")


@dataclass(frozen=True)
class ProbeSpec:
    """What ``probes/probes.json`` says.

    Attributes:
        images: paths relative to the data root, as in the manifest, in probe order.
        labels: class name of each image.
        splits: split of each image ("test" unless given with ``--probe-images``).
        layers: block outputs in depth order (the arrays of every epoch file).
        shapes: ``(h, w)`` of each layer's maps.
        image_size: side of the model input the CAMs were computed on.
        method: the CAM method ("gradcam").
    """

    images: tuple[str, ...]
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    layers: tuple[str, ...]
    shapes: tuple[tuple[int, int], ...]
    image_size: int
    method: str = METHOD

    def to_json(self) -> dict[str, Any]:
        """The ``probes.json`` dict."""
        return {
            "schema_version": SCHEMA_VERSION, "method": self.method, "image_size": self.image_size,
            "images": list(self.images), "labels": list(self.labels), "splits": list(self.splits),
            "layers": list(self.layers), "shapes": {n: list(s) for n, s in zip(self.layers, self.shapes, strict=True)},
        }


# ---------------------------------------------------------------------- choosing the images
def choose_probes(manifest: Manifest, n: int, seed: int) -> list[ManifestRow]:
    """``n`` test images, an equal share of each of the K classes (as near as the split allows),
    drawn with ``seed``.

    Deterministic: the same manifest and seed give the same images in the same order (classes
    alternating in class order, so for two classes the negative class first; the first ``n % K``
    classes get one more). Fewer than ``n`` when the test split is smaller.
    """
    if n <= 0:
        return []
    rng = np.random.default_rng(seed)
    by_class = []
    for label in manifest.classes:
        rows = [r for r in manifest.split_rows("test") if r.label == label]  # sorted by path
        by_class.append([rows[i] for i in rng.permutation(len(rows))])
    k_classes = len(by_class)
    want = [n // k_classes + (1 if k < n % k_classes else 0) for k in range(k_classes)]
    spare = 0
    for k in range(k_classes):  # a class with too few images leaves its share to the others
        short = want[k] - len(by_class[k])
        if short > 0:
            want[k] -= short
            spare += short
    for k in range(k_classes):
        extra = min(spare, len(by_class[k]) - want[k])
        want[k] += extra
        spare -= extra
    picked = [by_class[k][: want[k]] for k in range(k_classes)]
    out: list[ManifestRow] = []
    for i in range(max(len(p) for p in picked)):
        out.extend(p[i] for p in picked if i < len(p))
    return out


def probe_rows(manifest: Manifest, data_root: Path, paths: PathList) -> list[ManifestRow]:
    """The manifest rows of images given by path (``--probe-images``).

    Args:
        paths: relative to the data root as in the manifest, or absolute under the data root.

    Raises:
        RunError: a path is not under the data root or not in the manifest (the message names it).
    """
    rows = {r.path: r for r in manifest.rows}
    root = data_root.expanduser().absolute()
    out: list[ManifestRow] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_absolute():
            try:
                rel = path.absolute().relative_to(root).as_posix()
            except ValueError:
                raise RunError(f"--probe-images {given}: not under the data folder {root}; give a path relative "
                               "to it, as in its manifest.csv") from None
        else:
            rel = path.as_posix()
        if rel not in rows:
            raise RunError(f"--probe-images {given}: {rel!r} is not an image of the run's manifest (paths are "
                           f"relative to {root}, e.g. {manifest.rows[0].path if manifest.rows else 'cat.1.jpg'})")
        if rows[rel] in out:
            raise RunError(f"--probe-images {given}: given twice")
        out.append(rows[rel])
    return out


def resolve_request(
    manifest: Manifest, data_root: Path, seed: int, probes: int | None, probe_images: PathList | None
) -> list[str]:
    """The probe images (manifest paths) of a new run, as recorded in ``config.json``.

    Args:
        probes: number of images (None: :data:`DEFAULT_PROBES`; 0: no probes).
        probe_images: the images themselves (then ``probes`` must be None or their number).

    Raises:
        RunError: a negative count, a count that contradicts the images, or an unknown image.
    """
    if probes is not None and (isinstance(probes, bool) or not isinstance(probes, int) or probes < 0):
        raise RunError(f"--probes must be a whole number >= 0 (0: no probes), got {probes!r}")
    if probe_images:
        if probes is not None and probes != len(probe_images):
            raise RunError(f"--probes {probes} contradicts the {len(probe_images)} --probe-images given; "
                           "omit --probes")
        return [r.path for r in probe_rows(manifest, data_root, probe_images)]
    count = DEFAULT_PROBES if probes is None else probes
    return [r.path for r in choose_probes(manifest, count, seed)]


def recorded_images(meta: dict[str, Any]) -> list[str]:
    """The probe images a ``config.json`` dict records ([]: no probes, also for runs from before probes)."""
    record = meta.get(META_KEY)
    if not isinstance(record, dict) or not isinstance(record.get("images"), list):
        return []
    return [str(p) for p in record["images"]]


def check_resume_request(
    meta: dict[str, Any], out: Path, data_root: Path, probes: int | None, probe_images: PathList | None
) -> None:
    """Refuse a resume asking for other probes than the run recorded (probes cannot change on resume).

    Raises:
        RunError: naming the recorded setting.
    """
    recorded = recorded_images(meta)
    before = "" if META_KEY in meta else " (it was started before probes existed)"
    if probes is not None and probes != len(recorded):
        raise RunError(f"cannot resume {out} with --probes {probes}: the run records {len(recorded)} probe "
                       f"images{before}; probes cannot change on resume, omit --probes")
    if probe_images:
        root = data_root.expanduser().absolute()
        given = []
        for p in probe_images:
            path = Path(p).expanduser()
            try:
                given.append(path.absolute().relative_to(root).as_posix() if path.is_absolute() else path.as_posix())
            except ValueError:
                given.append(path.as_posix())
        if given != recorded:
            raise RunError(f"cannot resume {out} with other --probe-images than the {len(recorded)} it records"
                           f"{before}; probes cannot change on resume, omit --probe-images")


# ---------------------------------------------------------------------- files
def probes_dir(out: Path) -> Path:
    """``RUN/probes``."""
    return out / files.PROBES_DIR


def epoch_file(out: Path, epoch: int) -> Path:
    """``RUN/probes/epoch-<eeee>.npz`` (4 digits, more past epoch 9999)."""
    return probes_dir(out) / f"epoch-{epoch:04d}.npz"


def probe_epochs(out: Path) -> list[int]:
    """Epochs with a probe file, ascending ([] without probes)."""
    folder = probes_dir(out)
    if not folder.is_dir():
        return []
    found = (_EPOCH_FILE.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def read_spec(out: Path) -> ProbeSpec | None:
    """``probes/probes.json`` of the run in ``out``, or None when it has none.

    Raises:
        RunError: the file is damaged or of another schema version.
    """
    path = probes_dir(out) / SPEC_FILE
    data = load_json(path, "delete the probes folder", missing_ok=True)
    if data is None:
        return None
    try:
        if data["schema_version"] != SCHEMA_VERSION:
            raise RunError(f"{path}: schema_version {data['schema_version']!r} is not {SCHEMA_VERSION}")
        layers = tuple(str(n) for n in data["layers"])
        return ProbeSpec(
            images=tuple(str(p) for p in data["images"]), labels=tuple(str(c) for c in data["labels"]),
            splits=tuple(str(s) for s in data["splits"]), layers=layers,
            shapes=tuple((int(data["shapes"][n][0]), int(data["shapes"][n][1])) for n in layers),
            image_size=int(data["image_size"]), method=str(data["method"]),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RunError(f"{path} is damaged ({exc!r}); delete the probes folder") from None


def write_spec(out: Path, spec: ProbeSpec) -> None:
    """Atomically write ``probes/probes.json`` (creating the folder)."""
    probes_dir(out).mkdir(exist_ok=True)
    write_json(probes_dir(out) / SPEC_FILE, spec.to_json())


def read_epoch(out: Path, epoch: int) -> dict[str, np.ndarray]:
    """``{layer: (N, h, w) float16}`` of one epoch's probe file.

    Raises:
        FileNotFoundError: no file for that epoch. RunError: the file is damaged.
    """
    return read_npz(epoch_file(out, epoch), "resume the run to rewrite it, or delete it")


def write_epoch(out: Path, epoch: int, cams: dict[str, np.ndarray]) -> Path:
    """Atomically write one epoch's probe file from ``{layer: (N, h, w)}`` maps in [0, 1].

    The temporary file is ``.epoch-<eeee>.npz.<random>.tmp``: no reader globbing
    ``epoch-*.npz`` ever sees a half-written file.
    """
    arrays = {name: np.asarray(cam, np.float16) for name, cam in cams.items()}
    return write_npz(epoch_file(out, epoch), arrays, compress=False)


def repair(out: Path, completed: int) -> list[int]:
    """On resume: remove the probe files of epochs past ``completed`` and stray temporary files.

    Returns:
        The epochs whose files were removed (their epochs are re-run and rewrite them).
    """
    folder = probes_dir(out)
    if not folder.is_dir():
        return []
    removed = [e for e in probe_epochs(out) if e > completed]
    for epoch in removed:
        epoch_file(out, epoch).unlink(missing_ok=True)
    remove_strays(folder)
    return removed


# ---------------------------------------------------------------------- recording during training
class ProbeRecorder:
    """Computes and writes the probe CAMs of a model (used by the training loop once per epoch).

    Args:
        out: the run directory.
        images: float32 ``(N, S, S, 3)`` RGB 0-255, the probe images at the model's input size.
        spec: the run's :class:`ProbeSpec`.
    """

    def __init__(self, out: Path, images: np.ndarray, spec: ProbeSpec) -> None:
        self.out, self.images, self.spec = out, images, spec

    @classmethod
    def open(
        cls, out: Path, model: Any, meta: dict[str, Any], data_root: Path, image_size: int
    ) -> ProbeRecorder | None:
        """The recorder of a run, writing ``probes/probes.json`` if missing; None without probes.

        Raises:
            RunError: a probe image cannot be loaded (the message names it).
        """
        from cvd_explorer.data.loader import ImageLoadError, load_image
        from cvd_explorer.data.split import read_manifest
        from cvd_explorer.models import block_outputs, find_layer

        images = recorded_images(meta)
        layers = tuple(block_outputs(model))
        if not images or not layers:
            return None
        spec = read_spec(out)
        if spec is None:
            rows = {r.path: r for r in read_manifest(out / files.MANIFEST).rows}
            shapes = tuple((int(find_layer(model, n)[0].output.shape[1]), int(find_layer(model, n)[0].output.shape[2]))
                           for n in layers)
            spec = ProbeSpec(tuple(images), tuple(rows[p].label for p in images), tuple(rows[p].split for p in images),
                             layers, shapes, int(image_size))
            write_spec(out, spec)
        pixels = []
        for rel in spec.images:
            try:
                pixels.append(load_image(data_root / rel, size=(spec.image_size, spec.image_size)))
            except ImageLoadError as exc:
                raise RunError(f"probe image {data_root / rel} cannot be loaded ({exc}); restore it") from None
        return cls(out, np.stack(pixels).astype(np.float32), spec)

    def compute(self, model: Any) -> dict[str, np.ndarray]:
        """``{layer: (N, h, w) float32}`` Grad-CAM maps in [0, 1] of the probe images (one engine pass)."""
        from cvd_explorer.explain import compute_cams

        cams: dict[str, np.ndarray] = compute_cams(
            model, self.images, list(self.spec.layers), method=self.spec.method, target="predicted",
            batch_size=len(self.images), normalize=True, size="native",
        )
        return cams

    def record(self, model: Any, epoch: int) -> Path:
        """Compute and atomically write ``probes/epoch-<epoch>.npz``."""
        return write_epoch(self.out, epoch, self.compute(model))
