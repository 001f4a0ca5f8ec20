"""An error area for panels: callbacks show their exception here instead of losing it."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as W

from cvd_explorer.errors import CvdError

log = logging.getLogger("cvd_explorer.widgets")
F = TypeVar("F", bound=Callable[..., Any])

_STYLE = "color:#a40000;background:#fff0f0;border:1px solid #e8b4b4;padding:4px 8px;border-radius:3px"


def describe(exc: BaseException) -> str:
    """One-line message for users: the message alone for our own and value errors, else type and message."""
    if isinstance(exc, (CvdError, ValueError, KeyError, FileNotFoundError)):
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {exc} (traceback in the log)"


class ErrorArea:
    """An ``ipywidgets.HTML`` showing the last error (hidden when there is none).

    Attributes:
        widget: the HTML widget to place in a panel (CSS class ``cvd-error``).
        message: text of the error shown, "" when none.
    """

    def __init__(self) -> None:
        self.widget = W.HTML("", layout=W.Layout(display="none"))
        self.widget.add_class("cvd-error")
        self.message = ""

    def show(self, exc: BaseException | str, context: str = "") -> None:
        """Show ``exc`` (logged with its traceback when it is an exception)."""
        if isinstance(exc, BaseException):
            expected = isinstance(exc, (CvdError, ValueError, KeyError, FileNotFoundError))
            log.log(logging.INFO if expected else logging.ERROR, "%s failed", context or "callback", exc_info=exc)
            text = describe(exc)
        else:
            text = str(exc)
        self.message = f"{context}: {text}" if context else text
        self.widget.value = f'<div style="{_STYLE}">⚠ {html.escape(self.message)}</div>'
        self.widget.layout.display = None

    def clear(self) -> None:
        """Hide the area."""
        self.message = ""
        self.widget.value = ""
        self.widget.layout.display = "none"

    def guard(self, context: str) -> Callable[[F], F]:
        """Decorator: exceptions of the wrapped callback are shown here and logged, not raised."""

        def wrap(fn: F) -> F:
            @functools.wraps(fn)
            def inner(*args: Any, **kwargs: Any) -> Any:
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:  # shown in the panel, which stays usable
                    self.show(exc, context)
                    return None

            return inner  # type: ignore[return-value]

        return wrap
