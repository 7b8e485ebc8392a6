"""Injectable clock.

Screens that show dates ("modified", "3 minutes ago") or durations read the time through a
:class:`Clock` held by the app, so snapshot tests can freeze it and render identical SVGs on
every run and machine.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the UI needs from a clock."""

    def time(self) -> float:
        """Wall-clock epoch seconds (for dates and "ago")."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (for rates and elapsed time)."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A frozen clock for deterministic tests and screenshots."""

    def __init__(self, now: float, monotonic: float = 1000.0) -> None:
        self.now = now
        """Epoch seconds returned by :meth:`time`."""
        self.mono = monotonic
        """Seconds returned by :meth:`monotonic`."""

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono
