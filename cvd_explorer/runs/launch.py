"""Start `cvd-explorer train` as a detached child process and watch its run directory.

Widget-free: the TrainingPanel polls :func:`watch` and shows the :class:`Snapshot`; a script
can do the same. The child runs in its own session (process group), so interrupting or killing
the caller's process (a Jupyter kernel) neither stops nor kills the training, and a crashed
training never takes the caller down.

Output of the child (its stdout and stderr: CLI errors raised before training starts, Python
tracebacks, TensorFlow's own messages) is appended to ``RUN/log.txt``, the file the training
writes its time-stamped lines to. Every writer opens the file in append mode, so lines land
whole and in order. The training runs with ``--quiet`` so its per-epoch lines are not written
twice.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import RunError
from cvd_explorer.fileio import append_text, now_iso, write_json
from cvd_explorer.runs import files, folder
from cvd_explorer.runs.folder import HistoryRow
from cvd_explorer.runs.liveness import STALE_SECONDS, status_alive
from cvd_explorer.runs.liveness import process_alive as is_alive
from cvd_explorer.runs.status import format_duration

__all__ = [
    "FINAL_STATES", "LAUNCHING", "LOG_TAIL_LINES", "STALE_SECONDS", "Launch", "Snapshot", "describe_exit",
    "format_duration", "is_alive", "last_error_line", "launch", "log_tail", "read_history", "read_status",
    "request_stop", "stop_pending", "train_command", "watch",
]

# States a training never leaves by itself.
FINAL_STATES = ("finished", "failed", "stopped", "interrupted")
LOG_TAIL_LINES = 30
# Phase of the status :func:`launch` writes for a child that has not started training yet.
LAUNCHING = "launching"


@dataclass
class Launch:
    """A training started by :func:`launch`.

    Attributes:
        pid: process id of the child (also its process-group and session id).
        run_dir: the run directory (absolute).
        command: the argument list the child runs.
        process: the ``subprocess.Popen`` (None when the handle was made from a pid alone).
    """

    pid: int
    run_dir: Path
    command: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def poll(self) -> int | None:
        """Exit code of the child once it has ended (negative: killed by that signal), else None.

        Reaps the child, so no zombie is left behind. Without a ``process`` this is always None.
        """
        return self.process.poll() if self.process is not None else None

    @property
    def alive(self) -> bool:
        """Whether the child is still running."""
        if self.process is not None:
            return self.process.poll() is None
        return is_alive(self.pid)

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the child ends (or ``timeout`` seconds pass); its exit code, or None."""
        if self.process is None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while is_alive(self.pid):
                if deadline is not None and time.monotonic() > deadline:
                    return None
                time.sleep(0.2)
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


@dataclass(frozen=True)
class Snapshot:
    """What a run directory says about its training at one moment (see :func:`watch`).

    Attributes:
        state: "new" (nothing yet), "starting" (child alive, no status yet), "running",
            "finished", "stopped", "failed", or "interrupted" (the status says running but the
            process is gone: killed, or its machine stopped sending heartbeats).
        phase: the training's phase ("setup", "train", "validate", "test", "done", ...) or "".
        epoch: completed epochs.
        epochs: epochs of the run (0 when unknown).
        step: training step within the current epoch (test batch during "test").
        steps_per_epoch: training steps per epoch (0 when unknown).
        images_per_s: training throughput of the current or last epoch, or None.
        eta_seconds: estimated seconds to the end of training, or None.
        error: why the training failed or died, "" otherwise.
        log_tail: the last lines of ``log.txt``.
        history: completed epochs, dicts with the columns of ``history.csv`` (epoch as int).
        pid: process id of the training, or None.
        returncode: exit code of a child started by this process, once it has ended.
    """

    state: str
    phase: str = ""
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    images_per_s: float | None = None
    eta_seconds: float | None = None
    error: str = ""
    log_tail: str = ""
    history: tuple[HistoryRow, ...] = ()
    pid: int | None = None
    returncode: int | None = None

    @property
    def done(self) -> bool:
        """Whether the training has ended (in any way)."""
        return self.state in FINAL_STATES

    @property
    def active(self) -> bool:
        """Whether a training process is (still) working on the run."""
        return self.state in ("starting", "running")

    @property
    def fraction(self) -> float:
        """Progress in [0, 1]: completed epochs plus the current epoch's share of steps."""
        if self.state == "finished":
            return 1.0
        if self.epochs <= 0:
            return 0.0
        part = 0.0
        if self.steps_per_epoch > 0 and self.phase in ("train", "validate") and self.epoch < self.epochs:
            part = min(self.step, self.steps_per_epoch) / self.steps_per_epoch
        return max(0.0, min(1.0, (self.epoch + part) / self.epochs))


def train_command(
    config: TrainConfig | None,
    data: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    python: str | None = None,
    probes: int | None = None,
    probe_images: Sequence[str | os.PathLike[str]] | None = None,
) -> list[str]:
    """The ``python -m cvd_explorer train ...`` argument list for ``config``.

    Args:
        config: every field becomes a flag; None (only with ``resume``) takes the run's own.
        data: the data folder (None: on resume, the recorded one).
        out: the run directory.
        resume: add ``--resume``.
        python: interpreter (default: the current one).
        probes, probe_images: ``--probes`` / ``--probe-images`` (None: left out; a new run then
            gets the default probes, a resumed one keeps its own).

    Returns:
        The argument list, ``--quiet`` included (progress is read from the run directory).
    """
    cmd = [python or sys.executable, "-m", "cvd_explorer", "train", "--out", str(Path(out).expanduser().absolute())]
    if data is not None:
        cmd += ["--data", str(Path(data).expanduser().absolute())]
    if config is not None:
        cmd += [
            "--arch", config.arch, "--epochs", str(config.epochs), "--image-size", str(config.image_size),
            "--batch-size", str(config.batch_size), "--steps-per-epoch", str(config.steps_per_epoch),
            "--val-steps", str(config.val_steps), "--lr", repr(config.lr), "--momentum", repr(config.momentum),
            "--weights", config.weights if config.weights is not None else "none", "--seed", str(config.seed),
            "--lr-schedule", config.lr_schedule,
        ]
        cmd += [flag for flag, on in (
            ("--no-augment", not config.augment), ("--mixed-precision", config.mixed_precision),
            ("--xla", config.xla), ("--cache-images", config.cache_images),
        ) if on]
    cmd += _probe_flags(probes, probe_images)
    if resume:
        cmd.append("--resume")
    cmd.append("--quiet")
    return cmd


def _probe_flags(probes: int | None, probe_images: Sequence[str | os.PathLike[str]] | None) -> list[str]:
    """``--probes N`` / ``--probe-images PATH ...`` when given."""
    flags = [] if probes is None else ["--probes", str(int(probes))]
    if probe_images:
        flags += ["--probe-images", *(os.fspath(p) for p in probe_images)]
    return flags


def launch(
    config: TrainConfig | None,
    data: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    env: dict[str, str] | None = None,
    probes: int | None = None,
    probe_images: Sequence[str | os.PathLike[str]] | None = None,
) -> Launch:
    """Start the training CLI as a detached child process writing the run directory ``out``.

    The child gets a new session (so the caller's Ctrl-C or kernel interrupt does not reach it),
    stdin from /dev/null, and stdout/stderr appended to ``out/log.txt``. Returns at once.

    Args:
        config: the training config (None with ``resume``: the run's own).
        data: the data folder (None on resume: the recorded one).
        out: the run directory (created if missing).
        resume: continue the run in ``out``.
        env: extra environment variables for the child.
        probes, probe_images: passed on as ``--probes`` / ``--probe-images`` (see :func:`train_command`).

    Returns:
        The :class:`Launch` handle (``pid``, ``poll()``, ``wait()``).
    """
    out = Path(out).expanduser().absolute()
    if config is None and not resume:
        raise RunError("a training config is needed to start a new run")
    out.mkdir(parents=True, exist_ok=True)
    command = train_command(config, data, out, resume=resume, probes=probes, probe_images=probe_images)
    child_env = dict(os.environ)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    child_env["PYTHONUNBUFFERED"] = "1"
    child_env.update(env or {})
    log_path = out / files.LOG
    append_text(log_path, f"{now_iso()} launching: {' '.join(command[1:])}\n")
    previous = read_status(out) or {}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=child_env, start_new_session=True, close_fds=True,
        )
    _write_launching_status(out, process.pid, config, previous if resume else {})
    return Launch(process.pid, out, tuple(command), process)


def _write_launching_status(out: Path, pid: int, config: TrainConfig | None, previous: dict[str, Any]) -> None:
    """A "running" status in phase "launching" with the child's pid, until the training writes its own.

    Another panel or reader then sees a training starting (and does not start a second one);
    the training's status writer replaces the file within a few seconds of starting.
    """
    stamp = now_iso()
    write_json(out / files.STATUS, {
        "state": "running", "pid": pid, "host": socket.gethostname(), "heartbeat": stamp, "phase": LAUNCHING,
        "epoch": _int(previous.get("epoch")), "step": 0,
        "steps_per_epoch": config.steps_per_epoch if config is not None else previous.get("steps_per_epoch"),
        "epochs": config.epochs if config is not None else previous.get("epochs"),
        "images_per_s": None, "eta_seconds": None, "error": None, "started": stamp, "updated": stamp,
    })


def request_stop(run_dir: str | os.PathLike[str], pid: int | None = None, *, wait_seconds: float = 2.0) -> str:
    """Ask the training in ``run_dir`` to stop gracefully after its current batch.

    Once the run exists (``config.json``), this creates the ``STOP`` file the training checks
    after every batch; it then saves, writes status "stopped" and can be resumed. A training
    still starting removes a STOP file it finds, so call this again while :func:`watch` reports
    "starting" and the file is gone.

    Before ``config.json`` exists a STOP file would make the new run folder look foreign, and
    there is nothing to save yet: the starting child (``pid``, or the pid of the "launching"
    status :func:`launch` wrote on this host) gets SIGTERM instead, and once it is gone the
    status is marked "stopped".

    Returns:
        "stop file", "signal", or "nothing to stop".
    """
    path = Path(run_dir).expanduser().absolute()
    if (path / files.CONFIG).is_file():
        folder.request_stop(path)
        return "stop file"
    status = read_status(path) or {}
    launching = status.get("phase") == LAUNCHING and status.get("host") == socket.gethostname()
    if pid is None and launching:
        pid = status.get("pid")
    if pid is None or not is_alive(pid):
        return "nothing to stop"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    status = read_status(path) or {}
    if not is_alive(pid) and status.get("phase") == LAUNCHING and status.get("pid") == pid:
        stamp = now_iso()
        write_json(path / files.STATUS, {**status, "state": "stopped", "phase": "stopped", "heartbeat": stamp,
                                         "updated": stamp})
    return "signal"


def stop_pending(run_dir: str | os.PathLike[str]) -> bool:
    """Whether a STOP file is waiting in ``run_dir``."""
    return folder.stop_pending(Path(run_dir))


def read_status(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``status.json`` of ``run_dir`` as a dict, or None when absent or unreadable."""
    try:
        return folder.read_status(Path(run_dir))
    except (OSError, RunError):
        return None


def read_history(run_dir: str | os.PathLike[str]) -> list[HistoryRow]:
    """Rows of ``history.csv`` as :func:`cvd_explorer.runs.folder.read_history` reads them ([] if unreadable)."""
    try:
        return folder.read_history(Path(run_dir))
    except (OSError, ValueError):
        return []


def log_tail(run_dir: str | os.PathLike[str], lines: int = LOG_TAIL_LINES, max_bytes: int = 65536) -> str:
    """The last ``lines`` lines of ``log.txt`` ("" when there is none)."""
    path = Path(run_dir) / files.LOG
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def watch(
    run_dir: str | os.PathLike[str],
    launched: Launch | None = None,
    *,
    log_lines: int = LOG_TAIL_LINES,
) -> Snapshot:
    """Read the run directory once and say where its training stands.

    Args:
        run_dir: the run directory.
        launched: the handle of a child started by :func:`launch` for this run, if any: a child
            that ended without writing a final status is reported as failed with its exit code.
        log_lines: lines of ``log.txt`` to include.

    Returns:
        A :class:`Snapshot`. A "running" status whose process is gone (pid dead on this host,
        or no heartbeat for :data:`STALE_SECONDS`) is reported as "interrupted".
    """
    run_dir = Path(run_dir).expanduser().absolute()
    status = read_status(run_dir)
    returncode = launched.poll() if launched is not None else None
    child_alive = launched is not None and returncode is None and launched.alive
    tail = log_tail(run_dir, log_lines)
    history = tuple(read_history(run_dir))
    # A status older than our launch belongs to an earlier training of this run.
    if (status is not None and launched is not None and status.get("pid") != launched.pid
            and (child_alive or not _is_final(status) or returncode not in (None, 0))):
        status = None
    if status is None:
        if launched is None:
            return Snapshot("new", log_tail=tail, history=history)
        if child_alive:
            return Snapshot("starting", phase="setup", log_tail=tail, history=history, pid=launched.pid)
        error = _early_exit_error(tail, returncode)
        return Snapshot("failed", error=error, log_tail=tail, history=history, pid=launched.pid, returncode=returncode)
    state = str(status.get("state") or "new")
    error = str(status.get("error") or "")
    pid = status.get("pid") if isinstance(status.get("pid"), int) else None
    if state == "running" and status.get("phase") == LAUNCHING:
        starting = Snapshot("starting", phase=LAUNCHING, epoch=_int(status.get("epoch")),
                            epochs=_int(status.get("epochs")), steps_per_epoch=_int(status.get("steps_per_epoch")),
                            log_tail=tail, history=history, pid=pid)
        if _running(status, launched, child_alive):
            return starting
        return replace(starting, state="failed", phase="", error=_early_exit_error(tail, returncode),
                       returncode=returncode)
    if state == "running" and not _running(status, launched, child_alive):
        state = "interrupted"
        how = describe_exit(returncode) if returncode is not None else "process gone"
        error = (f"the training process (pid {pid}) ended without a final status ({how}); "
                 "resume the run to continue from its last completed epoch")
    elif state == "failed" and not error:
        error = last_error_line(tail) or "training failed (see the log)"
    return Snapshot(
        state=state,
        phase=str(status.get("phase") or ""),
        epoch=_int(status.get("epoch")),
        epochs=_int(status.get("epochs")),
        step=_int(status.get("step")),
        steps_per_epoch=_int(status.get("steps_per_epoch")),
        images_per_s=_opt_float(status.get("images_per_s")),
        eta_seconds=_opt_float(status.get("eta_seconds")),
        error=error,
        log_tail=tail,
        history=history,
        pid=pid,
        returncode=returncode,
    )


def describe_exit(returncode: int | None) -> str:
    """``exit code 1`` / ``signal SIGKILL`` / ``unknown exit``."""
    if returncode is None:
        return "unknown exit"
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def last_error_line(text: str) -> str:
    """The last line of a log that reports an error (``error: ...``, an exception line), or ""."""
    for line in reversed(text.splitlines()):
        stripped = line.strip()
        if stripped.startswith("error:"):
            return stripped[len("error:"):].strip()
        head = stripped.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) and " " not in head and ":" in stripped:
            return stripped
    return ""


def _early_exit_error(tail: str, returncode: int | None) -> str:
    """Why a child ended before training: its last error line since launch, else its exit."""
    found = last_error_line(_since_launch(tail))
    return found or f"the training process exited with {describe_exit(returncode)} before starting"


def _since_launch(tail: str) -> str:
    """The part of a log tail written since the last :func:`launch` line."""
    marker = tail.rfind(" launching: ")
    if marker < 0:
        return tail
    end = tail.find("\n", marker)
    return "" if end < 0 else tail[end + 1:]


def _running(status: dict[str, Any], launched: Launch | None, child_alive: bool) -> bool:
    pid = status.get("pid")
    if launched is not None and pid == launched.pid:
        return child_alive
    return status_alive(status)


def _is_final(status: dict[str, Any]) -> bool:
    return status.get("state") in FINAL_STATES


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _opt_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
