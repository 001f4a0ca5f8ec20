"""Suite-wide settings: quiet TensorFlow, caches in temporary folders, an artifacts folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The scan cache of the tests never touches the user's cache folder.
os.environ["CVD_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="cvd-explorer-test-cache-")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for files a person may want to look at after the run (screenshots, figures)."""
    path = Path(os.environ.get("CVD_EXPLORER_ARTIFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
