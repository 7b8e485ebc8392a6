"""Progress of the steps before a job runs: scanning, checking duplicates, creating tasks.

A 50,000-file tree takes seconds to scan, hash and store, and a wait with no number looks
like a hang. The select and store layers count as they go and call back with bare integers
(no object per call, nothing at all when nobody listens); this module turns those counts into
:class:`Progress` events, throttled to about ten a second, so every client (the CLI's line,
the TUI's preparing screen, the Python API) gets the same events and the same words
(:func:`progress_text`). It knows no terminal and no Textual.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CREATING",
    "HASHING",
    "PHASES",
    "SCANNING",
    "Progress",
    "ProgressEmitter",
    "ProgressFn",
    "progress_text",
]

SCANNING = "scanning"
"""Walking the roots: ``done`` = files looked at, ``matched`` = files selected, no total."""
HASHING = "hashing"
"""Checking duplicates: ``done``/``total`` = files read (or found in the hash cache) of those
that could have a duplicate; ``total`` grows once if whole-file checks turn out needed."""
CREATING = "creating"
"""Storing the job: ``done``/``total`` = tasks written."""
PHASES = (SCANNING, HASHING, CREATING)
"""In the order a job goes through them (hashing only when dedupe is on)."""

DEFAULT_INTERVAL = 0.1
"""Seconds between two events of one phase (the first and the last always go out)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one phase is. ``final`` marks its last event, whose counts are exact."""

    phase: str
    """:data:`SCANNING`, :data:`HASHING` or :data:`CREATING`."""
    done: int
    """Files looked at (scanning), files checked (hashing), tasks written (creating)."""
    total: int | None
    """What ``done`` counts up to; None while unknown (scanning)."""
    matched: int = 0
    """Scanning: files selected by the filter so far."""
    bytes_done: int = 0
    """Hashing: bytes read so far."""
    elapsed: float = 0.0
    """Seconds since the phase began."""
    final: bool = False
    """The phase is over (or was cancelled): no more events of it."""

    def to_dict(self) -> dict[str, object]:
        """The fields of a ``--json`` ``progress`` line."""
        out: dict[str, object] = {"phase": self.phase, "done": self.done, "total": self.total}
        if self.phase == SCANNING:
            out["matched"] = self.matched
        if self.phase == HASHING:
            out["bytes"] = self.bytes_done
        out["elapsed"] = round(self.elapsed, 3)
        out["final"] = self.final
        return out


ProgressFn = Callable[[Progress], None]
"""What ``plan_job(progress=...)`` and ``create_job(progress=...)`` call."""


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _files(n: int) -> str:
    return f"{n:,} file" if n == 1 else f"{n:,} files"


def progress_text(p: Progress) -> str:
    """One line for people: "Scanning… 12,345 files (8,000 matched)" while a phase runs,
    "Scanned 12,345 files (8,000 matched) in 0.4 s" once it is over."""
    took = f" in {p.elapsed:.1f} s" if p.final and p.elapsed >= 0.05 else ""
    if p.phase == SCANNING:
        counts = f"{_files(p.done)} ({p.matched:,} matched)"
        return f"Scanned {counts}{took}" if p.final else f"Scanning… {counts}"
    if p.phase == HASHING:
        total = p.total or 0
        if p.final and total == 0:
            return "Checked duplicates: no two files have the same size"
        if p.total is None:
            return "Checking duplicates…"  # grouping by size, looking in the hash cache
        read = f", {_size(p.bytes_done)} read" if p.bytes_done >= 1_000_000 else ""
        if p.final:
            return f"Checked {_files(p.done)} for duplicates{read}{took}"
        return f"Checking duplicates… {p.done:,}/{_files(total)}{read}"
    if p.phase == CREATING:
        total = p.total or 0
        if p.final:
            return f"Created {total:,} task{'' if total == 1 else 's'}{took}"
        return f"Creating tasks… {p.done:,}/{total:,}"
    return f"{p.phase}… {p.done:,}"


class ProgressEmitter:
    """Builds :class:`Progress` events from raw counts and hands them to ``sink``, at most one
    per ``interval`` seconds within a phase; a phase's first and final events always go out.

    The time check comes before any object is built, so the select layer may call the raw
    counters as often as every folder or every 64 files."""

    __slots__ = ("_clock", "_interval", "_last", "_next", "_phase", "_started", "sink")

    def __init__(
        self,
        sink: ProgressFn,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self._interval = interval
        self._clock = clock
        self._phase = ""
        self._started = 0.0
        self._next = 0.0
        self._last: tuple[int, int | None, int, int] = (0, None, 0, 0)

    def begin(self, phase: str, total: int | None = None) -> None:
        """A phase starts: an event with nothing done yet, whatever the throttle says."""
        now = self._clock()
        self._phase, self._started, self._next = phase, now, now + self._interval
        self._last = (0, total, 0, 0)
        self.sink(Progress(phase, 0, total))

    def update(
        self, done: int, total: int | None = None, *, matched: int = 0, bytes_done: int = 0
    ) -> None:
        """New counts of the current phase; sent unless the last event is too recent."""
        self._last = (done, total, matched, bytes_done)
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._interval
        self.sink(Progress(self._phase, done, total, matched, bytes_done, now - self._started))

    def end(self) -> None:
        """The current phase is over: the last counts given, always sent, marked final."""
        done, total, matched, bytes_done = self._last
        elapsed = self._clock() - self._started
        self.sink(Progress(self._phase, done, total, matched, bytes_done, elapsed, True))

    # Raw callbacks with the signatures the select and store layers call.
    def scanned(self, seen: int, matched: int) -> None:
        """``scan(progress=...)``: files looked at, files selected."""
        self.update(seen, None, matched=matched)

    def hashed(self, done: int, total: int, bytes_done: int) -> None:
        """``find_duplicates(progress=...)``: files checked of total, bytes read."""
        self.update(done, total, bytes_done=bytes_done)

    def stored(self, done: int, total: int) -> None:
        """``Store.create_job(progress=...)``: tasks written of total."""
        self.update(done, total)
