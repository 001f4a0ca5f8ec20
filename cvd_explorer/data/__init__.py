"""Data ingestion: find the layout, validate images, set bad files aside, split into a manifest.

Importable without TensorFlow (numpy and Pillow only).
"""

from cvd_explorer.data.duplicates import DuplicateGroup, find_duplicates
from cvd_explorer.data.fingerprint import Fingerprint, fingerprint
from cvd_explorer.data.layout import IMAGE_EXTENSIONS, OXFORD_CLASSES, Layout, detect_layout, oxford_class
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
from cvd_explorer.data.masks import oxford_mask, oxford_trimap_mask, oxford_trimap_path
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
    "OXFORD_CLASSES",
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
    "oxford_class",
    "oxford_mask",
    "oxford_trimap_mask",
    "oxford_trimap_path",
    "quarantine",
    "read_image_size",
    "read_manifest",
    "scan",
    "sidecar_path",
    "write_manifest",
]
