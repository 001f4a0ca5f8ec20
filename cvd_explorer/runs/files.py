"""Names of the files in a run directory (the contract is documented in docs/run-directory.md)."""

from __future__ import annotations

SCHEMA_VERSION = 1

CONFIG = "config.json"
MANIFEST = "manifest.csv"
HISTORY = "history.csv"
MODEL = "model.keras"
MODEL_INFO = "model.json"
LAST_DIR = "last"
LAST_MODEL = "last.keras"
LAST_STATE = "state.json"
TENSORBOARD = "tensorboard"
PREDICTIONS = "predictions.csv"
SUMMARY = "summary.json"
STATUS = "status.json"
LOG = "log.txt"
STOP = "STOP"
# Derived data: the atlas (cvd-explorer atlas) and the probes (CAMs of a few test images per epoch).
ATLAS_DIR = "atlas"
PROBES_DIR = "probes"
PROBES_SPEC = "probes.json"  # in PROBES_DIR; the epoch files are PROBES_DIR/epoch-<eeee>.npz

HISTORY_COLUMNS = (
    "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "images_per_s",
)
PREDICTION_COLUMNS = ("path", "label", "prob", "predicted", "correct", "loss")
SUMMARY_KEYS = (
    "max_train_accuracy", "min_train_loss", "max_val_accuracy", "min_val_loss", "test_accuracy",
    "test_loss", "epochs", "images_per_s", "device", "synthetic",
)
STATES = ("running", "finished", "failed", "stopped")
# Files a run directory may hold before config.json exists: written by a training (or a launch)
# killed while starting, or a STOP asked for then. A new run may start in such a folder; a
# training that starts removes a STOP file it finds.
STARTUP_FILES = frozenset({MANIFEST, LOG, STATUS, STOP})
