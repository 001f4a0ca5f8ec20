"""`cvd-explorer train --data DIR --out RUN`: train a classifier into a run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cvd_explorer.config import ARCHITECTURES, LR_SCHEDULES, TrainConfig
from cvd_explorer.errors import CvdError
from cvd_explorer.runs import folder
from cvd_explorer.runs.folder_check import check_run_folder

NAME = "train"
HELP = "train ResNet50/101 (or a small ResNet) into a run directory; resumable"
ORDER = 30
USES_TENSORFLOW = True
DESCRIPTION = """\
Train a classifier on DATA (scanned and split on first use: DATA/manifest.csv) and
write everything to the run directory RUN: config.json, manifest.csv, history.csv, model.keras
(best epoch by validation accuracy), last/ (resume state), tensorboard/, predictions.csv and
summary.json (test split), status.json and log.txt, and probes/ (the Grad-CAM of --probes
test images at every block output after every epoch). See docs/run-directory.md.

Defaults are the reference study: resnet50, 224 px, from scratch, SGD lr 0.001 momentum 0.9,
batch 20, 90 steps per epoch, 20 validation steps moving on through the validation split,
550 epochs, the study's augmentation, seed 0.

Two classes get one sigmoid unit and binary cross-entropy, as the study; K > 2 classes (any
folder-per-class data, the Oxford-IIIT Pet breeds) get a K-unit softmax head and categorical
cross-entropy, optionally with --label-smoothing. predictions.csv then holds one p_<class>
column per class.

Stop gracefully with SIGTERM, Ctrl-C or by creating the file RUN/STOP: the current batch
finishes, the run is marked "stopped" and an epoch cut short is re-run on resume. After a
stop or a crash (even kill -9), continue with `cvd-explorer train --out RUN --resume` (the
original command with --resume added works too). On resume only --epochs may change.

Several GPUs are used through MirroredStrategy (--batch-size is per GPU). Multi-worker
training (TF_CONFIG) is refused: Keras 3 cannot run it.
"""

# flag -> TrainConfig field, for flags that map one to one
_FIELDS = {
    "arch": "arch", "epochs": "epochs", "image_size": "image_size", "batch_size": "batch_size",
    "steps_per_epoch": "steps_per_epoch", "val_steps": "val_steps", "lr": "lr", "momentum": "momentum",
    "weights": "weights", "mixed_precision": "mixed_precision", "xla": "xla", "seed": "seed",
    "cache_images": "cache_images", "augment": "augment", "lr_schedule": "lr_schedule",
    "label_smoothing": "label_smoothing",
}


def _whole_number(text: str, minimum: int, expected: str, below: str | None = None) -> int:
    """``text`` as an int >= ``minimum``; else an argparse error "expected <expected>[<below>], got ..."."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}{below or ''}, got {text!r}")
    return value


def val_steps_arg(text: str) -> int | str:
    """``--val-steps``: a positive integer or ``all``."""
    return text if text == "all" else _whole_number(text, 1, "a positive integer or 'all'")


def add_config_arguments(parser: argparse.ArgumentParser, arch: bool = True) -> None:
    """The training-config flags shared by `train` and `sweep` (absent flags stay None)."""
    d = TrainConfig()
    if arch:
        parser.add_argument("--arch", choices=ARCHITECTURES, help=f"architecture (default {d.arch})")
    parser.add_argument("--epochs", type=int, metavar="N", help=f"epochs (default {d.epochs})")
    parser.add_argument("--image-size", type=int, metavar="S", help=f"input side in px (default {d.image_size})")
    parser.add_argument("--batch-size", type=int, metavar="B", help=f"batch per replica (default {d.batch_size})")
    parser.add_argument("--steps-per-epoch", type=int, metavar="N", help=f"default {d.steps_per_epoch}")
    parser.add_argument("--val-steps", type=val_steps_arg, metavar="N|all", help=f"default {d.val_steps}")
    parser.add_argument("--lr", type=float, metavar="X", help=f"SGD learning rate (default {d.lr})")
    parser.add_argument("--momentum", type=float, metavar="X", help=f"SGD momentum (default {d.momentum})")
    parser.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="constant, or linear warm-up over epoch 1 then "
                        f"cosine decay to 0 (default {d.lr_schedule})")
    parser.add_argument("--label-smoothing", type=float, metavar="S",
                        help="spread the share S in [0, 1) of each label over all classes (default 0: hard labels)")
    parser.add_argument("--weights", metavar="none|imagenet|PATH", help="initial weights (default none)")
    parser.add_argument("--mixed-precision", action="store_true", default=None, help="mixed_float16 compute")
    parser.add_argument("--xla", action="store_true", default=None, help="compile with XLA")
    parser.add_argument("--seed", type=int, metavar="N",
                        help=f"seed of init, shuffling, augmentation (default {d.seed})")
    parser.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                        help="train without the study's augmentation")
    parser.add_argument("--cache-images", action="store_true", default=None,
                        help="decode the images once into memory (small data sets)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `train`."""
    parser.add_argument("--data", metavar="DIR", help="data folder (required for a new run)")
    parser.add_argument("--out", metavar="RUN", required=True, help="run directory to create or resume")
    add_config_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN (or start it)")
    parser.add_argument("--manifest", metavar="PATH", help="split manifest (default DATA/manifest.csv)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    add_probe_arguments(parser)


def add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    """``--probes N`` and ``--probe-images PATH ...`` (absent: None, the default or the run's own)."""
    parser.add_argument("--probes", type=probes_arg, metavar="N",
                        help="test images (half of each class) whose Grad-CAM at every block output is saved after "
                             "every epoch in RUN/probes/ (default 8 for a new run, 0: none; fixed on resume)")
    parser.add_argument("--probe-images", nargs="+", metavar="PATH",
                        help="the probe images instead: paths relative to DATA as in its manifest (or absolute)")


def probes_arg(text: str) -> int:
    """``--probes``: a whole number >= 0."""
    return _whole_number(text, 0, "a whole number >= 0", " (0: no probes)")


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (default: the study's defaults) with every given flag applied."""
    changes: dict[str, Any] = {}
    for flag, field in _FIELDS.items():
        value = getattr(args, flag, None)
        if value is not None:
            changes[field] = value
    if isinstance(changes.get("weights"), str) and changes["weights"].lower() == "none":
        changes["weights"] = None
    return (base or TrainConfig()).replace(**changes)


def recorded_config(out: str | Path) -> TrainConfig | None:
    """The config of the run in ``out``, or None when there is none."""
    return folder.recorded_config(Path(out).expanduser().absolute())


def run_training(config: TrainConfig, args: argparse.Namespace, out: str | Path, resume: bool) -> int:
    """Check the run folder, train, and map the outcome to an exit status (0 finished or stopped, 1 crashed).

    Raises:
        RunError, DataError: the run folder or data folder cannot be used (checked before
            TensorFlow is loaded, with the rules :func:`cvd_explorer.runs.setup.prepare` applies).
    """
    check_run_folder(out, config, data=args.data, resume=resume).raise_if_refused()
    from cvd_explorer.runs.train import train

    try:
        train(config, args.data, out, resume=resume, progress=not args.quiet, manifest_path=args.manifest,
              probes=getattr(args, "probes", None), probe_images=getattr(args, "probe_images", None))
    except CvdError:
        raise
    except Exception as exc:  # the traceback is in RUN/log.txt
        print(f"error: training failed: {exc.__class__.__name__}: {exc} (traceback in {Path(out) / 'log.txt'})",
              file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Build the config from the flags (over the run's own config on --resume) and train."""
    base = recorded_config(args.out) if args.resume else None
    return run_training(config_from_args(args, base), args, args.out, args.resume)
