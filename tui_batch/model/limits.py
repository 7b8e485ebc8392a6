"""The allowed range of every numeric setting, in one table for every client.

Why a table: the CLI flags, recipe files, the TUI form, the Python API and ``resume`` (which
re-reads a stored spec) must refuse the same values with the same words, and a value outside
these ranges is never what the user meant: ``--timeout nan`` made every task fail "timed out
after nans", ``-j 10000000`` exhausted memory, ``--halt-after -1`` halted before the first
task. The bounds are generous (a week-long task, a thousand workers) and documented in
``--help``; a value outside them is refused with exit 2 naming the flag (or the recipe key).

Ranges (inclusive unless "more than")::

    workers        0..1024 (0 = one per CPU; the CLI's -j takes 1..1024)
    retries        0..100
    backoff        0..3600 s          backoff_max   0..86400 s      jitter  0..1
    timeout        more than 0, at most 2592000 s (30 days); none = no timeout
    kill_grace     0..3600 s (--grace)
    halt-after     1..1000000000 failures; none = never
    halt-percent   more than 0, at most 100
    no-retry-code  0..255 (exit codes)
    max_output     0..1 TiB per stream per attempt (0: keep only the last lines)
    settle         0..86400 s        rescan  0 (never) or 1..604800 s     retain  1..10000000
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

MAX_OUTPUT = 1 << 40
"""--max-output at most (bytes per stream per attempt): 1 TiB, i.e. no real cap."""

MAX_WORKERS = 1024
"""Parallel tasks at most: beyond this every task is a process or thread the OS must hold at
once, and the gain is nil while memory and descriptors run out."""


@dataclass(frozen=True)
class Limit:
    """One numeric setting: its CLI flag, bounds, and whether it is whole/optional."""

    flag: str
    lo: float
    hi: float
    integer: bool = False
    lo_open: bool = False  # the lower bound itself is not allowed (timeout > 0)
    unit: str = ""  # " seconds", appended to messages

    def describe(self) -> str:
        """The range in words, for messages and help texts."""
        if self.lo_open:
            return f"more than {_fmt(self.lo)} and at most {_fmt(self.hi)}{self.unit}"
        return f"from {_fmt(self.lo)} to {_fmt(self.hi)}{self.unit}"

    def check(self, value: Any, field: str | None = None) -> int | float:
        """``value`` if it is a number in range, else InputError naming ``field``."""
        name = field or self.flag
        kind = "a whole number" if self.integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(name, f"expected {kind} {self.describe()}, got {value!r}")
        if self.integer and isinstance(value, float):
            if not value.is_integer():
                raise InputError(name, f"expected {kind} {self.describe()}, got {value!r}")
            value = int(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(name, f"expected {kind} {self.describe()}, got {value!r}")
        # one-sided messages name the bound that was crossed (--help gives the whole range)
        if value < self.lo or (self.lo_open and value == self.lo):
            if self.lo_open:
                raise InputError(name, f"must be more than {_fmt(self.lo)}{self.unit}")
            raise InputError(name, f"must be {_fmt(self.lo)} or more{self.unit}")
        if value > self.hi:
            raise InputError(name, f"must be at most {_fmt(self.hi)}{self.unit}")
        return value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


SETTINGS: dict[str, Limit] = {
    "workers": Limit("--workers", 0, MAX_WORKERS, integer=True),
    "retries": Limit("--retries", 0, 100, integer=True),
    "backoff": Limit("--backoff", 0, 3600, unit=" seconds"),
    "backoff_max": Limit("settings.backoff_max", 0, 86400, unit=" seconds"),
    "jitter": Limit("settings.jitter", 0, 1),
    "timeout": Limit("--timeout", 0, 30 * 86400, lo_open=True, unit=" seconds"),
    "kill_grace": Limit("--grace", 0, 3600, unit=" seconds"),
    "halt_after_failures": Limit("--halt-after", 1, 1_000_000_000, integer=True),
    "halt_failure_percent": Limit("--halt-percent", 0, 100, lo_open=True),
    "max_output": Limit("--max-output", 0, MAX_OUTPUT, integer=True, unit=" bytes"),
}
"""EngineSettings attribute -> its range (optional ones may also be None)."""

OPTIONAL_SETTINGS = frozenset({"timeout", "halt_after_failures", "halt_failure_percent"})
"""Settings where None means "off" (no timeout, never halt)."""

EXIT_CODE = Limit("--no-retry-code", 0, 255, integer=True)
CLI_WORKERS = Limit("--workers", 1, MAX_WORKERS, integer=True)
"""-j on the command line: 0 ("one per CPU") is the default, not something to type."""

SETTLE = Limit("--settle", 0, 86400, unit=" seconds")
RESCAN = Limit("--rescan", 0, 7 * 86400, unit=" seconds")
RESCAN_MIN = 1.0
"""A reconcile scan walks every root: more often than once a second is a busy loop."""
RETAIN = Limit("--retain", 1, 10_000_000, integer=True)
GRACE = SETTINGS["kill_grace"]


def check_rescan(value: Any) -> float:
    """``--rescan``: 0 (never) or RESCAN_MIN..7 days."""
    v = RESCAN.check(value)
    if 0 < v < RESCAN_MIN:
        raise InputError(RESCAN.flag, f"must be 0 (never) or {_fmt(RESCAN_MIN)} or more seconds")
    return float(v)


def check_watch_options(*, settle: Any, rescan: Any, grace: Any, retain: Any) -> None:
    """The watch-only flags (``grace`` may be None: the job's kill grace is used)."""
    SETTLE.check(settle)
    check_rescan(rescan)
    if grace is not None:
        GRACE.check(grace)
    RETAIN.check(retain)


__all__ = [
    "CLI_WORKERS", "EXIT_CODE", "GRACE", "MAX_WORKERS", "OPTIONAL_SETTINGS", "RESCAN",
    "RETAIN", "SETTINGS", "SETTLE", "Limit", "check_rescan", "check_watch_options",
]
