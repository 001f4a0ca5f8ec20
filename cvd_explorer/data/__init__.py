"""Data ingestion: find the layout, validate images, set bad files aside, split into a manifest.

Importable without TensorFlow (numpy and Pillow only).
"""

from cvd_explorer.data.layout import IMAGE_EXTENSIONS, Layout, detect_layout
from cvd_explorer.data.loader import (
    ACCEPTED_FORMATS,
    DEFAULT_MAX_PIXELS,
    REASONS,
    ImageLoadError,
    load_image,
    read_image_size,
)
from cvd_explorer.data.scan import Rejection, ScanResult, quarantine, scan
from cvd_explorer.data.split import (
    SPLITS,
    Manifest,
    ManifestRow,
    ensure_manifest,
    make_split,
    read_manifest,
    write_manifest,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "REASONS",
    "SPLITS",
    "ImageLoadError",
    "Layout",
    "Manifest",
    "ManifestRow",
    "Rejection",
    "ScanResult",
    "detect_layout",
    "ensure_manifest",
    "load_image",
    "make_split",
    "quarantine",
    "read_image_size",
    "read_manifest",
    "scan",
    "write_manifest",
]
