"""Writing a synthetic data set to disk: images, masks, ``synthetic.json`` and ``synth-truth.json``."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from cvd_explorer.data.synthetic.constants import CASES, COPY_KINDS, JPEG_QUALITY, LABELS, META_NAME, TRUTH_NAME
from cvd_explorer.data.synthetic.plan import (
    case_of,
    check_args,
    check_noise,
    copy_sources,
    flipped_jobs,
    image_path,
    jobs,
    kinds_for,
    mask_path,
    params_of,
    shown_kind,
)
from cvd_explorer.data.synthetic.scene import _bbox, render_scene
from cvd_explorer.data.synthetic.shortcut import SPLIT_SEED, ShortcutPlan, check_shortcut, draw_cue, plan_shortcut
from cvd_explorer.errors import DataError


@dataclass(frozen=True)
class SynthInfo:
    """What :func:`generate` produced (or found already there).

    Attributes:
        root: the output folder.
        n, size, seed, hard_fraction: the parameters.
        reused: True if a previous identical output was found and nothing was written.
        cases: number of images per case (``"normal"``, ``"person"``, ``"both"``, ``"occluded"``),
            planted copies left out.
        flipped: images written under another class's name (``label_noise``).
        copies: images written again under new names (``duplicates``).
        classes: the kinds, in class order.
        marked: images that carry the planted shortcut (``shortcut``).
    """

    root: Path
    n: int
    size: int
    seed: int
    hard_fraction: float
    reused: bool
    cases: dict[str, int]
    flipped: int = 0
    copies: int = 0
    classes: tuple[str, ...] = LABELS
    marked: int = 0


def _previous(out: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    """The metadata of a previous identical output in ``out``; None if ``out`` is empty.

    Raises:
        DataError: ``out`` is a file, a foreign non-empty folder, or another synthetic output.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file: choose a folder for the synthetic images")
    if not out.exists() or not any(out.iterdir()):
        return None
    meta_path = out / META_NAME
    if not meta_path.is_file():
        raise DataError(f"{out} is not empty and holds no {META_NAME}: it is not a synthetic "
                        "output, so nothing was written; choose an empty or new folder")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{meta_path} cannot be read ({exc}); choose another folder") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path} is not a synthetic output's metadata (no JSON object); choose another folder")
    old = {k: meta.get(k) for k in {*params, "label_noise", "duplicates", "classes", "shortcut"}
           if k in params or k in meta}
    if old != params:
        diff = ", ".join(f"{k} {old.get(k)!r} -> {params.get(k)!r}" for k in sorted(old.keys() | params.keys())
                         if old.get(k) != params.get(k))
        raise DataError(f"{out} holds synthetic images made with other parameters ({diff}); "
                        "choose another folder")
    return meta


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _encode_jpeg(image: NDArray[np.uint8], quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _encode_png(mask: NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(mask, "L").save(buf, "PNG")
    return buf.getvalue()


def generate(  # noqa: PLR0913 (the options of `synth`, each with its default)
    out: str | os.PathLike[str],
    n: int = 2000,
    size: int = 128,
    seed: int = 0,
    hard_fraction: float = 0.08,
    progress: Callable[[int, int], None] | None = None,
    *,
    label_noise: float = 0.0,
    duplicates: int = 0,
    classes: int = 2,
    shortcut: str | None = None,
    shortcut_place: str = "bottom-right",
    shortcut_class: str | None = None,
) -> SynthInfo:
    """Write a synthetic data set of ``classes`` cartoon animal kinds with ground-truth masks.

    Layout, two classes (the default: cats and dogs, Kaggle's flat layout):
    ``out/train/{cat,dog}.<i>.jpg`` (n/2 each); more classes (the first ``classes`` of
    :data:`KINDS`, a folder per class): ``out/<kind>/<kind>.<i>.jpg`` (n/classes each). Images are RGB,
    JPEG quality 92, each with a mask at ``out/_masks/<image path with .png>`` (uint8 L: 0 background,
    1 labelled animal, 2 the other animal) and ``out/synthetic.json`` (parameters, the ``classes``
    when more than two, in drawing order, which is not the sorted order scan and train use beyond four
    kinds, and, per image, its case, bounding box ``[x0, y0, x1, y1]`` of mask 1 and, when
    occluded, the hidden share). Image ``<label>.<i>`` is drawn from
    ``np.random.default_rng([seed, class, i])``, so outputs are byte-identical for equal parameters
    and a larger ``n`` extends a smaller one.

    With ``label_noise`` or ``duplicates``, the truth is written to ``out/synth-truth.json``
    (outside the class folders; no training reads it): ``flipped``, the files showing another
    class (``{"path", "label": the name's class, "shown": the drawn class}``, plus ``"true_class"``
    (the drawn class's name) for more than two classes; their mask 1 is the drawn animal), and
    ``copies`` (``{"path", "copy_of", "kind"}``, kinds in :data:`COPY_KINDS`; copies are named
    ``<label>.<n/classes + k>.jpg`` (``.png`` when lossless) beside the file they copy, with a mask of
    their own).

    Args:
        out: folder to create, or an empty folder, or a previous output with equal parameters.
        n: number of images, a multiple of ``classes``; planted copies come on top.
        size: side of the square images in pixels.
        seed: non-negative integer seed.
        hard_fraction: share of hard images ("person", "both", "occluded" in turn); per class
            the count is within one of ``n/classes * hard_fraction`` (exact when that is whole).
        progress: called as ``progress(done, total)`` after each image.
        label_noise: share of the n images (rounded) drawn as another class than their name
            says, chosen by the seed. 0 (the default) writes exactly what earlier versions did.
        duplicates: number of images written again under new names (0..n).
        classes: number of kinds, 2..MAX_CLASSES (cat, dog, fox, rabbit, owl, mouse, bear, frog).
        shortcut: plant a cue (:mod:`.shortcut`: ``"square"``, ``"ring"`` or ``"bars"``) at
            ``shortcut_place`` on images of ``shortcut_class`` (default the first kind) in every split and
            on some test images of the other classes; writes ``manifest.csv`` (the split the cue follows)
            and records the marked images with their boxes in ``synth-truth.json`` (``"shortcut"``).

    Returns:
        A :class:`SynthInfo`; ``reused`` is True when an identical output was already there.

    Raises:
        DataError: bad parameters, or ``out`` is a non-empty folder that is not a synthetic
            output with the same parameters (nothing is written then).
    """
    check_args(n, size, seed, hard_fraction, classes)
    check_noise(n, label_noise, duplicates)
    kinds = kinds_for(classes)
    check_shortcut(shortcut, shortcut_place, shortcut_class, kinds, duplicates)
    root = Path(out)
    params = params_of(n, size, seed, hard_fraction, label_noise, duplicates, classes)
    todo = jobs(n, kinds)
    plan, manifest = (plan_shortcut(root, shortcut, shortcut_place, shortcut_class, kinds,
                                    [(image_path(kinds, label, i), label) for label, i in todo])
                      if shortcut is not None else (None, None))
    if plan is not None:
        params["shortcut"] = plan.params()
    meta = _previous(root, params)
    truth_wanted = bool(label_noise or duplicates or shortcut)
    if (meta is not None and meta.get("complete") and _all_present(root, meta)
            and (not truth_wanted or (root / TRUTH_NAME).is_file())):
        return _info(root, params, meta, reused=True)

    for label in kinds:
        folder = PurePosixPath(image_path(kinds, label, 0)).parent
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / PurePosixPath(mask_path(image_path(kinds, label, 0))).parent).mkdir(parents=True, exist_ok=True)
    meta = dict(params, complete=False, images=[])
    _write_atomic(root / META_NAME, _dump_meta(meta))
    flips = flipped_jobs(n, seed, label_noise, classes) if label_noise else set()
    sources = copy_sources(n, seed, duplicates, classes) if duplicates else []
    total = len(todo) + len(sources)
    flipped: list[dict[str, str]] = []
    marked: list[dict[str, Any]] = []
    for done, (label, i) in enumerate(todo, start=1):
        shown = shown_kind(seed, label, i, kinds) if (label, i) in flips else label
        rel = image_path(kinds, label, i)
        cue = plan if plan is not None and plan.carries(seed, rel, label, i, kinds) else None
        meta["images"].append(_write_one(root, seed, size, hard_fraction, (label, i, shown), kinds, cue))
        if cue is not None:
            marked.append({"path": rel, "label": label, "split": cue.split_of[rel],
                           "box": meta["images"][-1]["cue_box"]})
        if shown != label:
            flip = {"path": image_path(kinds, label, i), "label": label, "shown": shown}
            flipped.append(flip if len(kinds) == 2 else dict(flip, true_class=shown))
        if progress is not None:
            progress(done, total)
    copies: list[dict[str, str]] = []
    by_path = {e["path"]: e for e in meta["images"]}
    per_class = n // len(kinds)
    for k, (label, i) in enumerate(sources):
        source = image_path(kinds, label, i)
        entry = _write_copy(root, by_path[source], f"{label}.{per_class + k}", COPY_KINDS[k % 5])
        meta["images"].append(entry)
        copies.append({"path": entry["path"], "copy_of": source, "kind": COPY_KINDS[k % 5]})
        if progress is not None:
            progress(len(todo) + k + 1, total)
    if manifest is not None:
        from cvd_explorer.data.split import MANIFEST_NAME, write_manifest

        write_manifest(manifest, root / MANIFEST_NAME)
    if truth_wanted:
        truth = dict(params, flipped=flipped, copies=copies,
                     note="planted label flips and copies; training never reads this file")
        if plan is not None:
            truth["shortcut"] = dict(plan.params(), images=marked, split_seed=SPLIT_SEED,
                                     note="the cue's images and boxes [x0, y0, x1, y1]; the split is manifest.csv")
        _write_atomic(root / TRUTH_NAME, (json.dumps(truth, indent=1) + "\n").encode())
    meta["complete"] = True
    _write_atomic(root / META_NAME, _dump_meta(meta))
    return _info(root, params, meta, reused=False)


def _dump_meta(meta: dict[str, Any]) -> bytes:
    """JSON with one line per image (no timestamps, so equal parameters give equal bytes)."""
    head = {k: v for k, v in meta.items() if k != "images"}
    lines = [json.dumps(e, sort_keys=True) for e in meta["images"]]
    body = json.dumps(head, indent=1)[:-2]
    return (body + ',\n "images": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n").encode()


def _write_one(root: Path, seed: int, size: int, hard_fraction: float, job: tuple[str, int, str],  # noqa: PLR0913
               kinds: tuple[str, ...], cue: ShortcutPlan | None = None) -> dict[str, Any]:
    """Write image ``<label>.<i>`` of ``job = (label, i, shown)``, drawing kind ``shown``, and its mask;
    with ``cue``, the shortcut's mark on top (its box in the entry's ``cue_box``)."""
    label, i, shown = job
    case = case_of(seed, label, i, hard_fraction)
    sample = render_scene([seed, kinds.index(label), i], shown, size, case, classes=kinds)
    rel = image_path(kinds, label, i)
    mask_rel = mask_path(rel)
    extra: dict[str, Any] = {}
    if cue is not None:
        rng = np.random.default_rng([seed, 18, kinds.index(label), i])
        extra["cue_box"] = draw_cue(sample.image, cue.kind, cue.place, rng)
    _write_atomic(root / rel, _encode_jpeg(sample.image))
    _write_atomic(root / mask_rel, _encode_png(sample.mask))
    return {"path": rel, "mask": mask_rel, "label": label, **sample.info, **extra}


def _write_copy(root: Path, source: dict[str, Any], stem: str, kind: str) -> dict[str, Any]:
    """Write a copy of the image of entry ``source`` as ``<its folder>/<stem>.jpg`` (``.png``: lossless)."""
    data = (root / source["path"]).read_bytes()
    mask = np.asarray(Image.open(root / source["mask"]))
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    extra: dict[str, Any] = {}
    if kind == "reencoded":
        data = _encode_jpeg(pixels, quality=60)
    elif kind == "resized":
        side = max(16, pixels.shape[0] // 2)
        data = _encode_jpeg(np.asarray(Image.fromarray(pixels).resize((side, side), Image.Resampling.BILINEAR)), 85)
        mask = np.asarray(Image.fromarray(mask).resize((side, side), Image.Resampling.NEAREST))
        extra["bbox"] = _bbox(mask == 1)
        if "other_bbox" in source:
            extra["other_bbox"] = _bbox(mask == 2)
    elif kind == "lossless":
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, "PNG")
        data = buf.getvalue()
    elif kind == "recompressed":
        data = _encode_jpeg(pixels, quality=80)
    folder = PurePosixPath(source["path"]).parent
    rel = f"{folder}/{stem}.{'png' if kind == 'lossless' else 'jpg'}"
    mask_rel = mask_path(rel)
    _write_atomic(root / rel, data)
    _write_atomic(root / mask_rel, _encode_png(mask))
    return {**source, **extra, "path": rel, "mask": mask_rel}


def _all_present(root: Path, meta: dict[str, Any]) -> bool:
    return all((root / e["path"]).is_file() and (root / e["mask"]).is_file()
               for e in meta.get("images", []))


def _info(root: Path, params: dict[str, Any], meta: dict[str, Any], reused: bool) -> SynthInfo:
    cases = {c: 0 for c in CASES}
    n = int(params["n"])
    for e in meta["images"][:n]:
        cases[e["case"]] += 1
    flipped, copies = 0, len(meta["images"]) - n
    truth_path = root / TRUTH_NAME
    if params.get("label_noise") and truth_path.is_file():
        flipped = len(json.loads(truth_path.read_text()).get("flipped", []))
    marked = 0
    if params.get("shortcut") and truth_path.is_file():
        marked = len(json.loads(truth_path.read_text()).get("shortcut", {}).get("images", []))
    classes = tuple(params.get("classes", LABELS))
    return SynthInfo(root, n, params["size"], params["seed"], params["hard_fraction"], reused, cases,
                     flipped, copies, classes, marked)
