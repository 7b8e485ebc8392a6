"""Error types shared by every client (CLI, TUI, Python API).

User mistakes are raised as :class:`InputError` carrying the name of the field that is wrong, so
the CLI can print one line and exit 2, and the TUI can show the message inline on that field,
from the same exception.
"""

from __future__ import annotations


class TuiBatchError(Exception):
    """Base class for every error tui-batch raises on purpose."""


class InputError(TuiBatchError, ValueError):
    """Bad user input. ``field`` is the CLI option / form field / recipe key that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class StoreError(TuiBatchError):
    """The job store cannot be opened or does not hold what was asked for (e.g. unknown job)."""


class ControlError(TuiBatchError):
    """A running job's control socket cannot be served or spoken to: an unsafe runtime
    folder, a socket path too long, a refused handshake, an op the job refused. The message
    is meant for the user as it is (the CLI prints it on one line)."""
