"""cvd_explorer: see what a Cats-vs-Dogs CNN looks at, layer by layer.

Importing the package is cheap: TensorFlow and ipywidgets load only when a name that needs them
is first used.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cvd_explorer._lazy import lazy_attributes

try:
    __version__ = version("cvd-explorer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# public name -> module that defines it (imported on first use)
_LAZY = {
    "Explorer": "cvd_explorer.widgets",
    "Atlas": "cvd_explorer.widgets",
    "Compare": "cvd_explorer.widgets",
    "TrainingPanel": "cvd_explorer.widgets",
    "Run": "cvd_explorer.runs",
    "train": "cvd_explorer.runs",
    "TrainConfig": "cvd_explorer.config",
    "compute_cams": "cvd_explorer.explain",
    "feature_maps": "cvd_explorer.explain",
    "explain_all": "cvd_explorer.explain",
    "build_report": "cvd_explorer.report",
    "build": "cvd_explorer.models",
    "conv_layers": "cvd_explorer.models",
    "block_outputs": "cvd_explorer.models",
    "scan": "cvd_explorer.data.scan",
    "ensure_manifest": "cvd_explorer.data.split",
    "read_manifest": "cvd_explorer.data.split",
    "load_image": "cvd_explorer.data.loader",
}

__all__ = ["__version__", *sorted(_LAZY)]

_NEED_TENSORFLOW = {"Explorer", "Compare", "train", "compute_cams", "feature_maps", "explain_all", "build_report",
                    "build", "conv_layers", "block_outputs"}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, _NEED_TENSORFLOW)
