"""Off-thread computation for panels: one worker thread, newest job wins, a busy indicator."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as W

Job = tuple[int, Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None], str]


class BusyIndicator:
    """An HTML widget saying what is being computed (CSS class ``cvd-busy``), hidden when idle."""

    def __init__(self) -> None:
        self.widget = W.HTML("", layout=W.Layout(visibility="hidden"))
        self.widget.add_class("cvd-busy")

    def set(self, text: str | None) -> None:
        """Show ``text`` with a spinner, or hide on None."""
        if text:
            self.widget.value = f'<span style="color:#555">⏳ {text}…</span>'
            self.widget.layout.visibility = "visible"
        else:
            self.widget.value = ""
            self.widget.layout.visibility = "hidden"

    @property
    def active(self) -> bool:
        """Whether the indicator is showing."""
        return bool(self.widget.layout.visibility == "visible")


class Worker:
    """Runs ``fn()`` off the kernel's main thread and hands the result to ``done``.

    Only the newest submitted job matters: a job submitted while another waits replaces it, and
    a result that arrives after a newer job was submitted is dropped (``fn`` may still have
    filled caches). ``done`` and ``failed`` run on the worker thread; ipywidgets trait changes
    from there reach the front end.

    Args:
        busy: the indicator to show while a job runs.
        background: False runs every job synchronously in :meth:`submit` (tests, scripts).
    """

    def __init__(self, busy: BusyIndicator, background: bool = True) -> None:
        self.busy = busy
        self.background = background
        self._cond = threading.Condition()
        self._pending: Job | None = None
        self._running = False
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(
        self,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
        label: str = "computing",
    ) -> None:
        """Queue ``fn``; on success call ``done(result)``, on an exception ``failed(exc)``."""
        with self._cond:
            self._generation += 1
            job: Job = (self._generation, fn, done, failed, label)
            if not self.background:
                self._pending = None
            else:
                self._pending = job
                self._ensure_thread()
                self._cond.notify_all()
                return
        self._run(job)

    def current(self, generation: int) -> bool:
        """Whether ``generation`` is still the newest job."""
        return generation == self._generation

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until no job is pending or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._running, timeout)

    def close(self) -> None:
        """Stop the thread after its current job."""
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="cvd-explorer-worker", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, self._pending = self._pending, None
                if job is None:
                    continue
                self._running = True
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def _run(self, job: Job) -> None:
        generation, fn, done, failed, label = job
        self.busy.set(label)
        try:
            try:
                result = fn()
            except Exception as exc:
                if self.current(generation):
                    failed(exc)
                return
            if self.current(generation):
                done(result)
        except Exception as exc:  # a failing callback must not kill the worker thread
            failed(exc)
        finally:
            if self.current(generation) or not self.background:
                self.busy.set(None)
