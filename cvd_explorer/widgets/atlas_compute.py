"""What the Atlas shows for a run without a current atlas: the way to compute it, here (on the
panel's worker, with a progress bar) or in a terminal."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from cvd_explorer.widgets._async import Worker
from cvd_explorer.widgets._errors import ErrorArea


class ComputeBox:
    """The command line, the ``button`` and the ``progress`` bar with its ``progress_text`` (:attr:`widget`).

    Args:
        run: the :class:`~cvd_explorer.runs.Run`.
        split, method: the atlas to compute (method None: the default).
        worker, errors: the panel's worker and error area.
        on_done: called with the computed atlas (on the worker).
    """

    def __init__(
        self, run: Any, split: str, method: str | None, worker: Worker, errors: ErrorArea,
        on_done: Callable[[Any], None],
    ) -> None:
        self.run, self._split, self._method = run, split, method
        self._worker, self._errors, self._on_done = worker, errors, on_done
        command = f"cvd-explorer atlas {run.path}"
        self.button = W.Button(description="compute atlas", icon="play", button_style="primary",
                               layout=W.Layout(width="160px"))
        self.button.add_class("cvd-atlas-compute")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="", layout=W.Layout(width="320px"))
        self.progress_text = W.HTML("")
        self.widget = W.VBox([
            W.HTML(f"This run has no current atlas of its {html.escape(split)} split (none computed yet, or "
                   "computed for another model or manifest). Compute it here, or in a terminal with "
                   f"<code>{html.escape(command)}</code>."),
            W.HBox([self.button, self.progress, self.progress_text], layout=W.Layout(align_items="center")),
        ])
        self.button.on_click(errors.guard("compute atlas")(lambda _b: self.compute()))

    def compute(self) -> None:
        """Compute the atlas on the worker, with the progress bar; ``on_done(atlas)`` when done."""
        from cvd_explorer.atlas import compute_atlas
        from cvd_explorer.quiet_tf import import_tensorflow

        import_tensorflow()
        self.button.disabled = True
        self._errors.clear()

        def progress(done: int, total: int) -> None:
            self.progress.max = max(total, 1)
            self.progress.value = done
            self.progress_text.value = f"{done:,} / {total:,} images"

        def finished(atlas: Any) -> None:
            self.button.disabled = False
            self._on_done(atlas)

        def failed(exc: BaseException) -> None:
            self.button.disabled = False
            self._errors.show(exc, "atlas")

        self._worker.submit(lambda: compute_atlas(self.run, self._split, self._method, progress=progress),
                            finished, failed, label="computing the atlas")
