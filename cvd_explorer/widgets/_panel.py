"""Plumbing shared by the Explorer and the Compare panel: error area, busy indicator, worker,
reload button, thumbnail cache and the guarded-callback helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from cvd_explorer.explore.cache import LRUCache
from cvd_explorer.explore.views import thumbnail_jpeg
from cvd_explorer.widgets._async import BusyIndicator, Worker
from cvd_explorer.widgets._errors import ErrorArea
from cvd_explorer.widgets.gallery import THUMB_PX


class Panel:
    """Base of the panels that select samples from a gallery and explain them on a worker.

    Subclasses build ``self.root`` (the widget shown) and implement :meth:`reload`,
    :meth:`select`, :meth:`_refilter` and :meth:`_thumb_image`.

    Args:
        background: compute on a worker thread (False: synchronously, for tests).
        reload_tooltip: tooltip of the reload button.

    Attributes:
        errors: the :class:`~cvd_explorer.widgets._errors.ErrorArea`; ``error`` is its widget.
        busy_indicator: the :class:`~cvd_explorer.widgets._async.BusyIndicator`; ``busy`` is its widget.
        worker: the :class:`~cvd_explorer.widgets._async.Worker` computing explanations.
        reload_button: calls :meth:`reload` when clicked.
    """

    root: W.Box

    def __init__(self, *, background: bool, reload_tooltip: str) -> None:
        self._ui = threading.RLock()
        self._quiet = False
        self._thumbs: LRUCache[tuple[bytes, bool]] = LRUCache(512)

        self.errors = ErrorArea()
        self.error = self.errors.widget
        self.busy_indicator = BusyIndicator()
        self.busy = self.busy_indicator.widget
        self.worker = Worker(self.busy_indicator, background=background)
        self.reload_button = W.Button(description="reload", tooltip=reload_tooltip, layout=W.Layout(width="80px"))
        self.reload_button.on_click(self.errors.guard("reload")(lambda _b: self.reload()))

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.root._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ public API
    def wait(self, timeout: float | None = 120.0) -> bool:
        """Block until pending computations finished; False on timeout."""
        return self.worker.wait(timeout)

    def close(self) -> None:
        """Stop the worker thread and close the widgets."""
        self.worker.close()
        self.root.close()

    def reload(self) -> None:
        """(Re)open the panel's source."""
        raise NotImplementedError

    def select(self, row: Any) -> None:
        """Select ``row`` (a gallery row)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def _set_quiet(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` with the value observers muted."""
        self._quiet = True
        try:
            fn()
        finally:
            self._quiet = False

    def _on_filter(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._refilter()

    def _refilter(self) -> None:
        raise NotImplementedError

    def _thumbnail(self, row: Any) -> tuple[bytes, bool]:
        """``(jpeg_bytes, broken)`` of a gallery row, cached by its key."""
        hit = self._thumbs.get(row.key)
        if hit is None:
            try:
                hit = (thumbnail_jpeg(self._thumb_image(row), THUMB_PX), False)
            except Exception:  # the loader's message is shown when the sample is selected
                hit = (thumbnail_jpeg(None, THUMB_PX), True)
            self._thumbs.put(row.key, hit)
        return hit

    def _thumb_image(self, row: Any) -> Any:
        """The image of ``row`` to shrink into a thumbnail; raises when it cannot be loaded."""
        raise NotImplementedError

    def _on_thumb(self, row: Any) -> None:
        try:
            self.select(row)
        except Exception as exc:
            self.errors.show(exc, "select")
