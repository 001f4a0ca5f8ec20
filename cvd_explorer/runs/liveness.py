"""Whether the training behind a "running" ``status.json`` is still alive: one rule for every reader."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

# A "running" status of another host whose heartbeat is older than this counts as interrupted.
STALE_SECONDS = 120.0


def process_alive(pid: object) -> bool:
    """Whether process ``pid`` exists on this machine and has not ended (zombies count as ended)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def heartbeat_age(status: Mapping[str, Any]) -> float | None:
    """Seconds since the status' ``heartbeat`` (ISO time), or None when it has none."""
    try:
        beat = datetime.fromisoformat(str(status["heartbeat"])).timestamp()
    except (KeyError, TypeError, ValueError):
        return None
    return time.time() - beat


def status_alive(status: Mapping[str, Any]) -> bool:
    """Whether the process that wrote a "running" ``status`` still works on the run.

    On this host the recorded pid decides (a dead or zombie process is gone, whatever the
    heartbeat says); on another host a heartbeat older than :data:`STALE_SECONDS` means gone. A
    status without a heartbeat (an old writer) is trusted.
    """
    pid = status.get("pid")
    if status.get("host") == socket.gethostname() and isinstance(pid, int):
        return process_alive(pid)
    age = heartbeat_age(status)
    return age is None or age < STALE_SECONDS
