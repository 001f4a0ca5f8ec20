"""Keras callback that drives a run: progress, heartbeat, graceful stop, per-epoch commit."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import keras

from cvd_explorer.runs.status import StatusWriter, StopSignal, format_duration


class Progress:
    """Progress on stderr: a live one-line bar on a terminal, one line per epoch otherwise."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def batch(self, epoch: int, epochs: int, step: int, steps: int, ips: float | None, eta: float | None) -> None:
        """Redraw the bar (terminal only, at most 5 times a second)."""
        now = time.monotonic()
        if not self.tty or (now - self._last < 0.2 and step < steps):
            return
        self._last = now
        width = 24
        done = int(width * step / max(steps, 1))
        bar = "#" * done + "." * (width - done)
        rate = f"{ips:7.1f} img/s" if ips else "    ... img/s"
        self.stream.write(
            f"\repoch {epoch}/{epochs} [{bar}] step {step}/{steps} {rate} ETA {format_duration(eta)}   "
        )
        self.stream.flush()

    def line(self, text: str) -> None:
        """Print a whole line (ends the bar on a terminal)."""
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()


@dataclass(frozen=True)
class Pace:
    """The size of a training, for progress and ETA.

    Attributes:
        epochs: total epochs of the run.
        steps: training steps per epoch.
        global_batch: images per training step.
        epoch_seconds_hint: duration of a previous epoch, for the first ETA after a resume.
    """

    epochs: int
    steps: int
    global_batch: int
    epoch_seconds_hint: float | None = None


class RunCallback(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped (Any)
    """Per batch: stop check, status and progress. Per epoch: validation and commit.

    Args:
        stop: the graceful-stop flag (checked after every batch of training, validation and
            test prediction).
        status: the run's status writer.
        progress: terminal output.
        pace: epochs, steps and batch of the run, for the progress figures and ETA.
        validate: ``validate(epoch) -> {"val_loss", "val_accuracy"}``, run after each epoch.
        commit: ``commit(epoch, logs, train_seconds, epoch_seconds)`` persists a completed epoch.
    """

    def __init__(
        self,
        stop: StopSignal,
        status: StatusWriter,
        progress: Progress,
        pace: Pace,
        validate: Callable[[int], dict[str, float]],
        commit: Callable[[int, dict[str, float], float, float], None],
    ) -> None:
        super().__init__()
        self.stop, self.status, self.progress = stop, status, progress
        self.epochs, self.steps, self.global_batch = pace.epochs, pace.steps, pace.global_batch
        self.validate, self.commit = validate, commit
        self.epoch_seconds = pace.epoch_seconds_hint
        self._epoch = 0
        self._t0 = self._t_train = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch + 1
        self._t0 = time.monotonic()
        self.status.update(force=True, phase="train", step=0)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = batch + 1
        now = time.monotonic()
        self._t_train = now
        elapsed = now - self._t0
        ips = step * self.global_batch / elapsed if elapsed > 0 else None
        per_step = elapsed / step
        later = (self.epochs - self._epoch) * (self.epoch_seconds or per_step * self.steps)
        eta = (self.steps - step) * per_step + later
        self.status.update(step=step, images_per_s=_round(ips), eta_seconds=_round(eta))
        self.progress.batch(self._epoch, self.epochs, step, self.steps, ips, eta)
        self.stop.check()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.status.update()
        self.stop.check()

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.status.update()
        self.stop.check()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        train_seconds = self._t_train - self._t0
        self.status.update(force=True, phase="validate")
        epoch_logs = {key: float(value) for key, value in (logs or {}).items()}
        epoch_logs.update(self.validate(epoch + 1))
        epoch_seconds = time.monotonic() - self._t0
        self.commit(epoch + 1, epoch_logs, train_seconds, epoch_seconds)
        self.epoch_seconds = epoch_seconds


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)
