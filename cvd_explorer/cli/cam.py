"""`cvd-explorer cam`: CAM overlays, a depth strip and the raw maps for a few images."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAME = "cam"
HELP = "write CAM overlays, a depth strip and the maps (.npz) for images"
ORDER = 50
USES_TENSORFLOW = True
DESCRIPTION = """\
Explain a model's decision on one or more images, layer by layer.

The model comes from a training run (--run RUN: RUN/model.keras, input size and class names from
the run) or a Keras v3 file (--model FILE.keras, loaded in safe mode; legacy .h5 files are
refused). Images are squashed to the model's input size, as in training.

For each image, OUT gets:
  <stem>_<layer>.png    the CAM over the image, one per layer asked (default: the last conv layer)
  <stem>_depth.png      up to 8 layers evenly spaced from shallow to deep (with --all or several layers)
  <stem>.npz            the maps {layer: (H, W) float32 in [0, 1]}, plus prob and logit
and OUT/cam.json lists the files, the predictions and the settings.

Targets: predicted (default), a class name (cat/dog, or the run's class names), or a class index.

--method offers every registered method, your own included (cvd_explorer.explain.register).
scorecam explains one layer at a time. Pixel attributions (--method saliency, smoothgrad,
integrated-gradients, guided-backprop) have no layer: OUT gets <stem>_<method>.png and
<stem>.npz with the map under the method's name and the signed (H, W, 3) attributions under
"attribution". guided-gradcam uses the layers like a CAM.
Options: --samples/--noise/--seed (smoothgrad; noise as a share of each image's value range),
--steps/--baseline/--seed (integrated-gradients; the completeness gap is printed and written to
cam.json: the share by which the attributions miss score(image) - score(baseline); raise --steps
when it is large).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``cam`` options (``--method`` offers the registry as it is when the command line is parsed)."""
    from cvd_explorer.explain.registry import DEFAULT_METHOD, METHODS

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", metavar="RUN", help="training run directory (uses RUN/model.keras)")
    source.add_argument("--model", metavar="FILE.keras", help="Keras v3 model file (safe mode only)")
    parser.add_argument("--image", metavar="IMG", action="append", required=True, help="image file (repeatable)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--layers", metavar="L", nargs="+", help="layer names (default: the last conv layer)")
    which.add_argument("--all", action="store_true", help="every conv layer (one pass for gradient methods)")
    parser.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                        help=f"CAM method or pixel attribution (default: {DEFAULT_METHOD})")
    parser.add_argument("--target", default="predicted", help="predicted, a class name or a class index")
    parser.add_argument("--alpha", type=float, default=0.4, help="heat-map opacity in overlays (default 0.4)")
    pixel = parser.add_argument_group("pixel attributions")
    pixel.add_argument("--steps", type=int, help="integrated-gradients: path steps (default 64)")
    pixel.add_argument("--baseline", choices=("black", "blur", "noise"), help="integrated-gradients: baseline "
                       "(default black: zeros of the model's input)")
    pixel.add_argument("--samples", type=int, help="smoothgrad: noisy copies per image (default 25)")
    pixel.add_argument("--noise", type=float, help="smoothgrad: noise std as a share of the image's range (0.15)")
    pixel.add_argument("--seed", type=int, help="smoothgrad / integrated-gradients (noise baseline): seed (0)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder (created)")


def _load(args: argparse.Namespace) -> tuple[Any, tuple[str, str] | None]:
    """Return (model, classes or None)."""
    from cvd_explorer.errors import ModelError, RunError

    if args.run:
        from cvd_explorer.runs import Run

        run = Run(args.run)
        try:
            negative, positive = run.classes
            return run.load_model(), (negative, positive)
        except RunError:
            raise
        except KeyError:
            return run.load_model(), None
    path = Path(args.model).expanduser()
    if path.suffix.lower() == ".h5":
        raise ModelError(
            f"{path}: legacy .h5 model files are not loaded (unsafe deserialization); "
            "re-save the model as .keras with Keras 3 (model.save('model.keras'))"
        )
    if path.suffix.lower() != ".keras":
        raise ModelError(f"{path}: expected a Keras v3 .keras file")
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    from cvd_explorer.runs.safe_load import load_model_file

    try:
        return load_model_file(path), None
    except RunError as exc:
        raise ModelError(str(exc)) from None


def _parse_target(text: str, classes: tuple[str, ...] | None) -> str | int:
    """A class name as it is (resolved through the class list by the engine); digits not naming a class: an index."""
    if classes is not None and text in classes:
        return text
    return int(text) if text.lstrip("-").isdigit() else text


_OPTION_FLAGS = ("steps", "baseline", "samples", "noise", "seed")
"""Flags that are fields of a method's typed options (``--steps`` is ``IntegratedGradientsOptions.steps``)."""


def method_options(args: argparse.Namespace) -> dict[str, Any]:
    """The method options given on the command line, checked against ``--method``'s typed options.

    Raises:
        ModelError: a flag the method does not take (e.g. ``--steps`` with saliency), or a bad value.
    """
    from cvd_explorer.errors import ModelError
    from cvd_explorer.explain.registry import method_spec

    spec = method_spec(args.method)
    given = {k: getattr(args, k) for k in _OPTION_FLAGS if getattr(args, k, None) is not None}
    fields = spec.options_type.names()
    wrong = [k for k in given if k not in fields]
    if wrong:
        takes = ", ".join(f"--{k}" for k in _OPTION_FLAGS if k in fields) or "no option flag"
        raise ModelError(f"{', '.join('--' + k for k in wrong)}: {args.method} takes {takes}")
    spec.create(given)  # values checked (e.g. --steps 0)
    return given


def _layers(args: argparse.Namespace, model: Any) -> list[str]:
    from cvd_explorer.errors import ModelError
    from cvd_explorer.explain.registry import method_spec
    from cvd_explorer.models import conv_layers

    spec = method_spec(args.method)
    if not spec.uses_layer:
        if args.all or args.layers:
            raise ModelError(f"{args.method} attributes to the input pixels; it takes no --layers or --all")
        return []
    if args.all:
        layers = conv_layers(model)
    elif args.layers:
        layers = list(args.layers)
    else:
        convs = conv_layers(model)
        if not convs:
            raise ModelError("the model has no Conv2D layer; pass --layers")
        layers = [convs[-1]]
    if spec.per_layer and len(layers) != 1:
        raise ModelError(f"{args.method} explains one layer at a time; pass --layers with one name")
    return layers


def _images(args: argparse.Namespace, shape: tuple[int, int]) -> tuple[list[Any], list[str]]:
    """The images at the model's input size (uint8 ``(H, W, 3)``) and a distinct file stem for each."""
    from cvd_explorer.data.loader import load_image
    from cvd_explorer.errors import DataError

    images, stems = [], []
    for name in args.image:
        p = Path(name)
        if not p.is_file():
            raise DataError(f"image {p} does not exist")
        images.append(load_image(p, size=shape))
        stem = p.stem
        while stem in stems:
            stem += "_"
        stems.append(stem)
    return images, stems


@dataclass
class _Maps:
    """What the method gave: ``{name: (N, H, W)}`` maps by layer (or by method name), signed
    attributions ``(N, H, W, 3)`` and completeness gaps ``(N,)`` of a pixel attribution."""

    layers: list[str]
    cams: dict[str, Any]
    signed: Any = None
    gaps: Any = None


def _explain(args: argparse.Namespace, model: Any, x: Any, classes: tuple[str, ...] | None, options: dict[str, Any],
             layers: list[str]) -> _Maps:
    from cvd_explorer.explain import compute_cams, explain_pixels, method_spec

    target = _parse_target(args.target, classes)
    spec = method_spec(args.method)
    settings: dict[str, Any] = {"batch_size": 8, "classes": classes, **options}
    if spec.family != "pixel":
        return _Maps(layers, compute_cams(model, x, layers, args.method, target, **settings))
    if spec.uses_layer:  # guided Grad-CAM: one map per layer
        return _Maps(layers, {layer: explain_pixels(model, x, args.method, target, layer=layer, **settings).maps
                              for layer in layers})
    pixel = explain_pixels(model, x, args.method, target, **settings)
    return _Maps([args.method], {args.method: pixel.maps}, pixel.attributions, pixel.completeness_gap)


def _prediction(z: Any, names: tuple[str, ...]) -> tuple[str | int, float, dict[str, Any]]:
    """(predicted class, its probability, the arrays to store) of one image's logits ``(K,)``."""
    import numpy as np

    if z.shape[-1] == 1:
        prob = float(1 / (1 + np.exp(-z[0])))
        return names[int(prob >= 0.5)], prob, {"logit": np.asarray(z[0], np.float32),
                                               "prob": np.asarray(prob, np.float32)}
    prob = float(np.max(np.exp(z - z.max()) / np.exp(z - z.max()).sum()))
    return int(np.argmax(z)), prob, {"logits": z.astype(np.float32)}


def run(args: argparse.Namespace) -> int:
    """Write the overlays, strips and maps; print one line per image."""
    import numpy as np

    from cvd_explorer.errors import ModelError
    from cvd_explorer.explain import predict_logits
    from cvd_explorer.render import cam_overlay, depth_strip, to_png

    if not 0.0 <= args.alpha <= 1.0:
        raise ModelError(f"--alpha must be in [0, 1], got {args.alpha}")
    options = method_options(args)
    model, classes = _load(args)
    shape = tuple(model.inputs[0].shape[1:3])
    if None in shape:
        raise ModelError(f"model input shape {tuple(model.inputs[0].shape)} has no fixed size; cannot resize images")
    layers = _layers(args, model)
    images, stems = _images(args, (int(shape[0]), int(shape[1])))
    x = np.stack(images).astype(np.float32)
    maps = _explain(args, model, x, classes, options, layers)
    logits = predict_logits(model, x, batch_size=8)
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    report = {"method": args.method, "target": args.target, "layers": maps.layers, "images": entries,
              "options": options}
    for i, stem in enumerate(stems):
        files = []
        for layer in maps.layers:
            f = out / f"{stem}_{layer}.png"
            f.write_bytes(to_png(cam_overlay(images[i], maps.cams[layer][i], alpha=args.alpha)))
            files.append(f.name)
        if len(maps.layers) > 1:
            f = out / f"{stem}_depth.png"
            strip = depth_strip(images[i], {k: v[i] for k, v in maps.cams.items()}, n=8, alpha=args.alpha)
            f.write_bytes(to_png(strip))
            files.append(f.name)
        predicted, prob, extra = _prediction(logits[i], classes or ("cat", "dog"))
        # Any: mypy refuses a dict of arrays as **kwargs beside numpy's `allow_pickle: bool` keyword
        arrays: dict[str, Any] = {**{k: v[i] for k, v in maps.cams.items()}, **extra}
        if maps.signed is not None:
            arrays["attribution"] = maps.signed[i]
        np.savez_compressed(out / f"{stem}.npz", **arrays)
        files.append(f"{stem}.npz")
        entry: dict[str, Any] = {"image": str(args.image[i]), "predicted": predicted, "prob": prob, "files": files}
        note = ""
        if maps.gaps is not None:
            entry["completeness_gap"] = float(maps.gaps[i])
            note = f", completeness gap {maps.gaps[i]:.2%}"
        entries.append(entry)
        print(f"{args.image[i]}: {predicted} ({prob:.3f}{note}) -> {len(files)} files in {out}")
    (out / "cam.json").write_text(json.dumps(report, indent=2))
    return 0
