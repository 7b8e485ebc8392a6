"""The watch's settings: their defaults and their ranges, shared by the API and the CLI.

The CLI shows these defaults in its help and checks its flags against the same ranges; a
:class:`~tui_batch.watch.Watcher` built from the API checks them again, so nan, inf and absurd
values are refused whichever client passes them. Only checks here, no behaviour.
"""

from __future__ import annotations

from ..errors import InputError
from ..model.limits import RESCAN, RETAIN, SETTLE

__all__ = ["DEFAULT_RESCAN", "DEFAULT_RETAIN", "DEFAULT_SETTLE", "ON_STOP_CHOICES",
           "check_settings"]

DEFAULT_SETTLE = 2.0
DEFAULT_RESCAN = 300.0
DEFAULT_RETAIN = 2000
ON_STOP_CHOICES = ("finish", "stop")


def check_settings(
    *, settle: float, rescan: float | None, retain_finished: int, on_stop: str
) -> None:
    """Raise :class:`InputError` for a value outside the CLI's ranges (the API may rescan
    more often than the CLI's one-second floor: tests, tight loops on purpose)."""
    SETTLE.check(settle)
    if rescan is not None:
        RESCAN.check(rescan)
    RETAIN.check(retain_finished)
    if on_stop not in ON_STOP_CHOICES:
        raise InputError("--on-stop", f"must be one of {', '.join(ON_STOP_CHOICES)}")
