"""``status.json`` writer with a heartbeat thread, the graceful-stop flag, and durations as text."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from cvd_explorer.fileio import now_iso, write_json
from cvd_explorer.runs import files

HEARTBEAT_SECONDS = 2.0
MIN_WRITE_SECONDS = 0.5


def format_duration(seconds: float | None) -> str:
    """``h:mm:ss`` (``3725.4`` -> ``"1:02:05"``), or ``--:--`` when unknown (None, NaN, negative)."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "--:--"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class StatusWriter:
    """Keeps ``status.json`` current: state, progress fields and a heartbeat.

    A daemon thread rewrites the file every :data:`HEARTBEAT_SECONDS` so the heartbeat stays
    fresh through long batches, validation and test evaluation; :meth:`update` writes at most
    every :data:`MIN_WRITE_SECONDS` unless ``force=True`` (state changes, epoch ends).
    """

    def __init__(self, run_dir: Path, **fields: Any) -> None:
        self.path = Path(run_dir) / files.STATUS
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._stop = threading.Event()
        started = now_iso()
        self.data: dict[str, Any] = {
            "state": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "heartbeat": started,
            "phase": "setup",
            "epoch": 0,
            "step": 0,
            "steps_per_epoch": None,
            "epochs": None,
            "images_per_s": None,
            "eta_seconds": None,
            "error": None,
            "started": started,
            "updated": started,
        }
        self.data.update(fields)
        self.update(force=True)
        self._thread = threading.Thread(target=self._beat, name="cvd-heartbeat", daemon=True)
        self._thread.start()

    def update(self, force: bool = False, **fields: Any) -> None:
        """Merge ``fields`` into the status and write it (throttled unless ``force``)."""
        with self._lock:
            self.data.update(fields)
            now = time.monotonic()
            if not force and now - self._last_write < MIN_WRITE_SECONDS:
                return
            self._write(now)

    def close(self, **fields: Any) -> None:
        """Stop the heartbeat thread and write the final status."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.update(force=True, **fields)

    def _write(self, now: float) -> None:
        stamp = now_iso()
        self.data["heartbeat"] = stamp
        self.data["updated"] = stamp
        write_json(self.path, self.data)
        self._last_write = now

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                if self._stop.is_set():
                    return
                with contextlib.suppress(OSError):  # a full disk must not kill the heartbeat thread
                    self._write(time.monotonic())


class StopRequested(Exception):
    """Raised inside training when a graceful stop was asked for (SIGTERM, SIGINT or STOP file)."""


class StopSignal:
    """Graceful-stop flag set by SIGTERM/SIGINT or by a ``STOP`` file in the run directory.

    Use as a context manager: handlers are installed on entry (main thread only) and the previous
    ones restored on exit. A second SIGINT raises KeyboardInterrupt as usual.
    """

    def __init__(self, run_dir: Path) -> None:
        self.stop_file = Path(run_dir) / files.STOP
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGINT and self.reason is not None:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name

    def requested(self) -> bool:
        """Whether a stop was asked for (checks the STOP file too)."""
        if self.reason is None and self.stop_file.exists():
            self.reason = f"{files.STOP} file"
        return self.reason is not None

    def check(self) -> None:
        """Raise :class:`StopRequested` if a stop was asked for."""
        if self.requested():
            raise StopRequested(self.reason)
