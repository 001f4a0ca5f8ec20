"""TrainingPanel: configure, start, watch, stop and resume a training from a notebook.

The training runs as a detached `cvd-explorer train` child process (see
:mod:`cvd_explorer.runs.launch`); the panel only reads the run directory, every ~1 s on a
background thread, so the kernel stays responsive and a crashed training never kills it.
Closing the panel (or the kernel) leaves the training running; ``TrainingPanel(run_dir)``
reattaches to it later.

Layout, top to bottom: the form (architecture, epochs, image size, batch size, learning rate,
steps per epoch, validation steps, probes, data folder, run folder; each with its validation
message); Start/Resume and Stop; state; progress bar and its line (epoch, step, ETA, images/s); the
error area; the curves and, beside them, the probes' CAMs of the last epoch (redrawn when a new
``RUN/probes/epoch-*.npz`` appears); the log tail.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as W

from cvd_explorer.config import TrainConfig
from cvd_explorer.errors import RunError
from cvd_explorer.explore.probes import ProbeHistory, probe_grid
from cvd_explorer.render import to_png
from cvd_explorer.render_curves import curves_png
from cvd_explorer.runs.imported_meta import NO_HISTORY, is_imported_folder
from cvd_explorer.runs.launch import Launch, Snapshot, launch, request_stop, stop_pending, watch
from cvd_explorer.runs.status import format_duration
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.training_form import TrainingForm, resolve_source
from cvd_explorer.widgets.training_results import ResultsView

_BAR_STYLE = {"finished": "success", "stopped": "warning", "failed": "danger", "interrupted": "danger"}
_STATE_TEXT = {
    "new": "ready",
    "starting": "starting (loading TensorFlow, building the model)…",
    "running": "running",
    "finished": "finished",
    "stopped": "stopped; press Resume to continue",
    "failed": "failed",
    "interrupted": "interrupted (the training process is gone); press Resume to continue",
}


class TrainingPanel:
    """A form that starts `cvd-explorer train` as a child process, and a live view of the run.

    Args:
        config_or_run_dir: a :class:`TrainConfig` (or its dict) to fill the form with; or a run
            directory: an existing run is reopened (its config, data folder, progress; a
            running training is reattached and Stop works); a new folder becomes the run folder.
            None: the reference study's defaults.
        data: the data folder (default: the run's recorded one, when reopening).
        out: the run folder (default: ``config_or_run_dir`` when it is a folder).
        poll_seconds: how often the background thread reads the run directory.
        background: poll on a background thread while a training is active (False: only
            :meth:`refresh` updates the panel; for tests and scripts).

    Test handles: the form fields ``arch``, ``epochs``, ``image_size``, ``batch_size``, ``lr``,
    ``steps_per_epoch``, ``val_steps``, ``probes``, ``data_folder``, ``run_folder`` and their
    ``messages``; ``start_button``, ``stop_button``, ``progress``, ``progress_text``, ``status``,
    ``curves_image``, ``probes_image``, ``probes_caption``, ``results`` (per-class accuracy once
    finished), ``log_view``; :attr:`state`,
    :attr:`snapshot`, :attr:`field_errors`, :meth:`refresh`, :meth:`start`, :meth:`stop`, :meth:`wait`.

    Attributes:
        errors: the :class:`~cvd_explorer.widgets._errors.ErrorArea` (failures of the training
            and of callbacks); ``error`` is its widget. The same names as in every panel.
    """

    def __init__(
        self,
        config_or_run_dir: TrainConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        data: str | os.PathLike[str] | None = None,
        out: str | os.PathLike[str] | None = None,
        poll_seconds: float = 1.0,
        background: bool = True,
    ) -> None:
        base, data, out = resolve_source(config_or_run_dir, data, out)
        self.poll_seconds = float(poll_seconds)
        self.background = background
        self._lock = threading.RLock()
        self._launch: Launch | None = None
        self._snapshot = Snapshot("new")
        self._curves_key: object = None
        self._probes_key: object = None
        self._probes: ProbeHistory | None = None
        self._stop_requested = False
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._field_errors: dict[str, str] = {}

        self.form = f = TrainingForm(base, data, out)
        self.arch, self.epochs, self.image_size, self.batch_size = f.arch, f.epochs, f.image_size, f.batch_size
        self.lr, self.steps_per_epoch, self.val_steps, self.probes = f.lr, f.steps_per_epoch, f.val_steps, f.probes
        self.data_folder, self.run_folder = f.data_folder, f.run_folder
        self.fields, self.messages = f.fields, f.messages

        self.start_button = W.Button(description="Start", button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.status = W.HTML(_status_html("new", ""))
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="0/0")
        self.progress_text = W.HTML("")
        self.errors = ErrorArea()
        self.error = self.errors.widget
        self.curves_image = W.Image(format="png", layout=W.Layout(max_width="640px"))
        self.probes_image = W.Image(format="png", layout=W.Layout(max_width="320px"))
        self.probes_caption = W.HTML("")
        self.log_view = W.HTML("")
        self._results = ResultsView()
        self.results = self._results.widget
        self.show_log = W.ToggleButton(value=False, description="log", icon="file-text-o",
                                       tooltip="show the last lines of log.txt")

        self.root = W.VBox([
            self.form.widget,
            W.HBox([self.start_button, self.stop_button, self.show_log, self.status]),
            W.HBox([self.progress, self.progress_text]),
            self.error,
            W.HBox([self.curves_image, W.VBox([self.probes_caption, self.probes_image])]),
            self.results,
            self.log_view,
        ])
        self.root.add_class("cvd-training-panel")

        guard = self.errors.guard
        for widget in self.fields.values():
            widget.observe(guard("form")(lambda _c: self._validate()), "value")
        self.run_folder.observe(guard("run folder")(self._on_run_folder), "value")
        self.start_button.on_click(guard("start")(lambda _b: self.start()))
        self.stop_button.on_click(guard("stop")(lambda _b: self.stop()))
        self.show_log.observe(guard("log")(lambda _c: self._show_log(self._snapshot)), "value")

        self._validate()
        self.refresh()
        if self._snapshot.active:
            self._ensure_polling()

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.root._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> str:
        """State of the run as last read: new, starting, running, finished, stopped, failed, interrupted."""
        return self._snapshot.state

    @property
    def snapshot(self) -> Snapshot:
        """The last :class:`~cvd_explorer.runs.launch.Snapshot` read from the run directory."""
        return self._snapshot

    @property
    def run_dir(self) -> Path | None:
        """The run folder of the form (absolute), or None when empty."""
        return self.form.run_dir

    @property
    def field_errors(self) -> dict[str, str]:
        """Validation messages of the form by field name ({} when the form is valid)."""
        return dict(self._field_errors)

    @property
    def mode(self) -> str:
        """What Start does: "new" (start a run) or "resume" (continue the run in the run folder)."""
        return self.form.mode

    @property
    def config(self) -> TrainConfig | None:
        """The config the form describes, or None while a field is invalid."""
        config, _ = self.form.read()
        return config

    def start(self) -> Launch:
        """Start (or resume) the training the form describes, as a detached child process.

        Raises:
            RunError: the form is invalid or a training is already active.
        """
        with self._lock:
            self.refresh()
            self._validate()
            if self._snapshot.active:
                raise RunError("a training is already running in this run folder")
            config, errors = self.form.read()
            out = self.run_dir
            if errors or config is None or out is None:
                raise RunError("; ".join(errors.values()) or "the form is invalid")
            resume = self.mode == "resume"
            data = self.form.data
            self.errors.clear()
            self._stop_requested = False
            probes = None if resume else int(self.probes.value)
            self._launch = launch(config, data, out, resume=resume, probes=probes)
            self._set_running(True)
        self.refresh()
        self._ensure_polling()
        return self._launch

    def stop(self) -> None:
        """Ask the training to stop gracefully after its current batch (resumable afterwards)."""
        with self._lock:
            if self.run_dir is None or not self._snapshot.active:
                return
            self._stop_requested = True
            request_stop(self.run_dir, self._child_pid())
            self.stop_button.disabled = True
            self.status.value = _status_html(self._snapshot.state, "stopping after the current batch…")

    def refresh(self) -> Snapshot:
        """Read the run directory once and update the panel (the poller calls this every ~1 s)."""
        with self._lock:
            out = self.run_dir
            if out is None:
                return self._snapshot
            snap = watch(out, self._launch)
            if self._stop_requested and snap.active and not stop_pending(out):
                request_stop(out, self._child_pid(), wait_seconds=0.2)  # a starting training removes STOP
            self._snapshot = snap
            self._show(snap)
            return snap

    def wait(self, timeout: float | None = 600.0, states: tuple[str, ...] | None = None) -> str:
        """Refresh until the training has ended (or reached one of ``states``); returns the state.

        Raises:
            TimeoutError: still not there after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            snap = self.refresh()
            if (states is not None and snap.state in states) or (states is None and not snap.active):
                return snap.state
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"training still {snap.state!r} after {timeout} s")
            time.sleep(min(0.5, self.poll_seconds))

    def close(self) -> None:
        """Stop polling and close the widgets. A running training keeps running."""
        self._closed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        _close_tree(self.root)

    def _child_pid(self) -> int | None:
        """Pid of the training process this panel started, if it still runs."""
        return self._launch.pid if self._launch is not None and self._launch.alive else None

    # ------------------------------------------------------------------ polling
    def _ensure_polling(self) -> None:
        if not self.background or self._closed.is_set():
            return
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._poll, name="cvd-training-panel", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._closed.wait(self.poll_seconds):
            try:
                snap = self.refresh()
            except Exception as exc:  # shown in the panel; polling goes on
                self.errors.show(exc, "reading the run")
                continue
            if not snap.active:
                return

    # ------------------------------------------------------------------ form
    def _validate(self) -> None:
        with self._lock:
            _config, errors = self.form.read()
            self._field_errors = errors
            self.form.show(errors)
            self.start_button.description = "Resume" if self.mode == "resume" else "Start"
            self.start_button.disabled = bool(errors) or self._snapshot.active

    def _on_run_folder(self, _change: dict[str, Any]) -> None:
        """Another run folder: forget the old one's process and show the new one's state."""
        with self._lock:
            if self._snapshot.active:
                return
            if self._launch is not None and self._launch.run_dir != self.run_dir:
                self._launch = None
            self._curves_key = self._probes_key = None
            self._probes = None
            self.errors.clear()
        self.refresh()

    def _set_running(self, running: bool) -> None:
        self.form.set_disabled(running)
        self.start_button.disabled = running or bool(self._field_errors)
        self.stop_button.disabled = not running or self._stop_requested

    # ------------------------------------------------------------------ showing a snapshot
    def _show(self, snap: Snapshot) -> None:
        detail = ""
        if snap.state in ("starting", "running") and self._stop_requested:
            detail = "stopping after the current batch…"
        elif snap.state == "running" and snap.phase:
            detail = snap.phase
        self.status.value = _status_html(snap.state, detail)
        self.progress.value = snap.fraction
        self.progress.description = f"{snap.epoch}/{snap.epochs}" if snap.epochs else ""
        self.progress.bar_style = _BAR_STYLE.get(snap.state, "info")
        self.progress_text.value = html.escape(_progress_line(snap))
        key = tuple((row["epoch"], row["loss"], row["val_loss"]) for row in snap.history)
        if key != self._curves_key:
            title = self.run_dir.name if self.run_dir else ""
            if is_imported_folder(self.run_dir):  # a run brought by `cvd-explorer import` has no epochs
                title = f"{title}: {NO_HISTORY}"
            self.curves_image.value = curves_png(snap.history, title=title)
            self._curves_key = key
        self._show_probes()
        self._results.show(self.run_dir, snap.state == "finished", self.errors)
        if snap.state in ("failed", "interrupted"):
            self.errors.show(snap.error or f"training {snap.state}", "training")
        self._show_log(snap)
        if not snap.active:
            self._stop_requested = False
        self._set_running(snap.active)
        if not snap.active:
            self._validate()

    def _show_probes(self) -> None:
        """Redraw the probes' CAMs when a new epoch file appears (a listing of RUN/probes per refresh)."""
        out = self.run_dir
        if out is None:
            return
        if self._probes is None or self._probes.out != out:
            self._probes = ProbeHistory.open(out)
        latest = self._probes.latest if self._probes is not None else None
        key = (out, latest)
        if key == self._probes_key:
            return
        self._probes_key = key
        if self._probes is None or latest is None:
            self.probes_image.value = b""
            self.probes_caption.value = ""
            return
        self.probes_image.value = to_png(probe_grid(self._probes, latest))
        self.probes_caption.value = (f"<b>where the model looks</b> after epoch {latest} "
                                     "<span style='color:#666'>(probes × block outputs, Grad-CAM)</span>")

    def _show_log(self, snap: Snapshot) -> None:
        visible = self.show_log.value or snap.state in ("failed", "interrupted")
        if visible and snap.log_tail:
            self.log_view.value = (
                '<pre style="font-size:85%;max-height:24em;overflow:auto;background:#f6f6f6;padding:4px">'
                f"{html.escape(snap.log_tail)}</pre>"
            )
        else:
            self.log_view.value = ""


def _close_tree(widget: W.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


def _status_html(state: str, detail: str) -> str:
    text = _STATE_TEXT.get(state, state)
    suffix = f" <span style='color:#666'>({html.escape(detail)})</span>" if detail else ""
    return f"<b class='cvd-state' data-state='{html.escape(state)}'>{html.escape(text)}</b>{suffix}"


def _progress_line(snap: Snapshot) -> str:
    if snap.state in ("new", "starting"):
        return ""
    parts = [f"epoch {snap.epoch}/{snap.epochs}"]
    if snap.state == "running" and snap.steps_per_epoch:
        label = "test batch" if snap.phase == "test" else "step"
        parts.append(f"{label} {snap.step}" + ("" if snap.phase == "test" else f"/{snap.steps_per_epoch}"))
    if snap.state == "running":
        parts.append(f"ETA {format_duration(snap.eta_seconds)}")
    if snap.images_per_s:
        parts.append(f"{snap.images_per_s:.1f} images/s")
    parts.append(f"{len(snap.history)} epochs in history")
    return " · ".join(parts)
