"""Import TensorFlow without its C++ start-up chatter on the terminal.

TensorFlow 2.21 writes several lines to file descriptor 2 while it loads (absl's "All log messages
before absl::InitializeLog()", the oneDNN and CPU-feature notices, and on a machine without a GPU
the CUDA driver probes), whatever ``TF_CPP_MIN_LOG_LEVEL`` says; a notebook shows them as red
stderr. The command line and the panels import TensorFlow through :func:`import_tensorflow`,
which captures descriptor 2 while TensorFlow loads and lists its devices, drops exactly those
known lines and replays everything else (warnings, library errors on a GPU machine), so nothing
useful is lost.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from typing import TextIO

_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|oneDNN custom operations are on"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
)
_NO_DRIVER = "Could not find cuda drivers on your machine"
# Only noise when the machine has no CUDA driver at all; on a GPU machine it is a real problem.
_NO_GPU_PROBES = re.compile(re.escape(_NO_DRIVER) + r"|failed call to cuInit")


def drop_startup_noise(text: str) -> str:
    """``text`` without TensorFlow's known start-up lines (the CUDA probes only when no driver exists)."""
    no_driver = _NO_DRIVER in text
    kept = [
        line for line in text.splitlines(keepends=True)
        if not _NOISE.search(line) and not (no_driver and _NO_GPU_PROBES.search(line))
    ]
    return "".join(kept)


def import_tensorflow(stream: TextIO | None = None) -> None:
    """Import TensorFlow and list its devices with descriptor 2 captured; replay what is not noise.

    Args:
        stream: where the kept lines go (default ``sys.stderr``). A second call does nothing.
    """
    if "tensorflow" in sys.modules:
        return
    stream = stream or sys.stderr
    # later C++ INFO notices too (warnings and errors stay; a user's own setting wins)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    for s in (sys.stdout, sys.stderr):
        if s is not None:
            s.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a windowless process): nothing reaches a terminal anyway
        import tensorflow  # noqa: F401

        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            # the CUDA probes log here; listing does not initialise the devices, so a user can still
            # call tf.config.experimental.set_memory_growth afterwards
            tf.config.list_physical_devices()
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = drop_startup_noise(captured.read().decode("utf-8", errors="replace"))
            if kept and stream is not None:
                stream.write(kept)
                stream.flush()
