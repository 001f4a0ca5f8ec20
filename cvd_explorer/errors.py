"""Exceptions with messages meant for users: each names the file or value and says what to do."""

from __future__ import annotations


class CvdError(Exception):
    """Base class of every error the toolkit raises on purpose.

    The CLI prints ``error: <message>`` on one line and exits with status 2; panels show the
    message in place and stay usable.
    """


class DataError(CvdError):
    """A data folder, manifest or image cannot be used as given."""


class ModelError(CvdError):
    """A model cannot be built, loaded or explained as asked."""


class RunError(CvdError):
    """A run directory is missing, incomplete or inconsistent."""


class ConfigError(RunError):
    """A training config value is impossible; ``field`` names the config field concerned.

    Attributes:
        field: the :class:`~cvd_explorer.config.TrainConfig` field the error is about (``"lr"``,
            ``"epochs"``, ...), or None when it concerns the config as a whole (unknown keys, not
            JSON). Forms mark this field; nobody needs to parse the message.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
