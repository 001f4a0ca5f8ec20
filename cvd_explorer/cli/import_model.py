"""`cvd-explorer import MODEL.keras --data DATA --out RUN`: any Keras classifier becomes a run folder."""

from __future__ import annotations

import argparse

from cvd_explorer.runs.imported_meta import HEADS, PREPROCESSING

NAME = "import"
HELP = "turn your own Keras classifier (.keras) into a run folder: predictions, Explorer, Atlas, Compare"
ORDER = 34
USES_TENSORFLOW = True
DESCRIPTION = """\
Load MODEL.keras in Keras' safe mode (no Lambda layers, no unknown custom objects; Keras 2 .h5
files are refused: load them with Keras 2 or tf-keras and model.save("model.keras")), copy it into
RUN/model.keras with its sha256, record in RUN/config.json where it came from, its classes, input
size, head and preprocessing, then predict the test split of the manifest: RUN/predictions.csv
and RUN/summary.json, as for a trained run (there is no history.csv). Explorer, Atlas
(`cvd-explorer atlas RUN`), Compare, `report` and `serve` then open RUN like any run.

The manifest: --manifest names a split CSV, or another run's folder (the imported run then shares
its test images, so Compare works between them; --data defaults to that run's data folder).
Without it, DATA/manifest.csv is used, written first as `cvd-explorer split DATA` does.

The classes are the manifest's, in its order (--classes must repeat them). The model's head
must have one sigmoid unit for two classes (P(second class)) or K units for K classes.
--head auto reads the last layer: sigmoid/softmax = probabilities, linear = logits.
The input size is the model's own when fixed, else --size. --preprocess says what the model
expects of RGB 0-255 input: none (as is), scale (/255), tf ([-1, 1]), torch (ImageNet mean/std
of [0, 1] values), caffe (BGR, ImageNet mean removed); the default guess is none when the model
has its own Rescaling/Normalization layers, else the convention of a nested keras.applications
backbone. --output NAME picks the class scores of a model with several outputs.

Nothing is written to RUN unless the import succeeds (RUN must be absent or empty).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `import`."""
    parser.add_argument("model", metavar="MODEL.keras", help="the Keras model file")
    parser.add_argument("--data", metavar="DIR", help="the image folder")
    parser.add_argument("--manifest", metavar="M", help="a split manifest CSV, or another run's folder")
    parser.add_argument("--classes", metavar="A,B,...", help="the model's classes in output order")
    parser.add_argument("--preprocess", choices=PREPROCESSING, help="input convention (default: guessed)")
    parser.add_argument("--head", choices=("auto", *HEADS), default="auto", help="what the output is (default auto)")
    parser.add_argument("--size", type=int, metavar="S", help="input side for a model without a fixed input size")
    parser.add_argument("--output", metavar="NAME", help="the output layer to use in a multi-output model")
    parser.add_argument("--batch-size", type=int, default=32, metavar="B", help="prediction batch (default 32)")
    parser.add_argument("--out", required=True, metavar="RUN", help="the run folder to create (absent or empty)")


def run(args: argparse.Namespace) -> int:
    """Import, then print what was recorded and the test figures."""
    from cvd_explorer.runs.imported import ImportRequest, import_model

    classes = tuple(c.strip() for c in args.classes.split(",")) if args.classes else None
    request = ImportRequest(classes, args.preprocess, args.head, args.size, args.output, args.batch_size)
    summary = import_model(args.model, args.out, data=args.data, manifest=args.manifest, request=request)
    info = summary["imported"]
    print(f"imported {info['source']} -> {args.out}: {info['input_size']} px, head {info['head']}, "
          f"preprocess {info['preprocess']} ({summary['preprocess_reason']})"
          + (f", output {info['output']}" if info["output"] else ""))
    print(f"test accuracy {summary['test_accuracy']:.4f}  test loss {summary['test_loss']:.4f}  "
          f"({summary['test_images']} images, classes {', '.join(summary['classes'])})")
    return 0
