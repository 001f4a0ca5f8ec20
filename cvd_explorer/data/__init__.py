"""Data ingestion: find the layout, validate images, set bad files aside, split into a manifest.

Importable without TensorFlow (numpy and Pillow only).
"""

from cvd_explorer.data.duplicates import DuplicateGroup, find_duplicates
from cvd_explorer.data.fingerprint import Fingerprint, fingerprint
from cvd_explorer.data.layout import IMAGE_EXTENSIONS, Layout, detect_layout
from cvd_explorer.data.leakage import LeakageReport, leakage
from cvd_explorer.data.loader import (
    ACCEPTED_FORMATS,
    DEFAULT_MAX_PIXELS,
    REASONS,
    ImageLoadError,
    decode_image,
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
    sidecar_path,
    write_manifest,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "DuplicateGroup",
    "Fingerprint",
    "LeakageReport",
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
    "decode_image",
    "detect_layout",
    "ensure_manifest",
    "find_duplicates",
    "fingerprint",
    "leakage",
    "load_image",
    "make_split",
    "quarantine",
    "read_image_size",
    "read_manifest",
    "scan",
    "sidecar_path",
    "write_manifest",
]
