"""How fast the engine goes and how long it will take: what a :class:`~.events.Stats` reports.

The :class:`~.ledger.Ledger` counts on the hot path; the :class:`Meter` turns those counts into
smoothed rates, the elapsed time and an ETA, a few times a second, when a snapshot is taken (so
nothing here costs anything per task). It knows nothing of workers, executors or events.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import TaskState
from .events import Stats

if TYPE_CHECKING:
    from .ledger import Ledger
    from .task import Task

Q, R, D, F, C, S = (
    TaskState.QUEUED,
    TaskState.RUNNING,
    TaskState.DONE,
    TaskState.FAILED,
    TaskState.CANCELLED,
    TaskState.SKIPPED,
)

RATE_TIME_CONSTANT = 3.0
"""Seconds: the smoothed rates follow a change of pace within about this long (EWMA)."""


class Meter:
    """Run time and smoothed rates of one engine, from its ledger's counts."""

    __slots__ = ("_elapsed_before", "_last_tick", "_ledger", "_started", "bytes_per_s",
                 "files_per_s")

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.files_per_s = 0.0
        self.bytes_per_s = 0.0
        self._started: float | None = None  # monotonic start of the current run
        self._elapsed_before = 0.0  # earlier runs (run() may be called again)
        self._last_tick: tuple[float, int, int] | None = None

    def _finished(self) -> int:
        c = self._ledger.counts
        return c[D] + c[F] + c[C]

    def start(self) -> None:
        """A run begins: the clock runs, the rates are measured from here."""
        self._started = time.monotonic()
        self._last_tick = (self._started, self._finished(), self._ledger.bytes_done)

    def stop(self) -> None:
        """The run ended: the clock stops (a later run adds to the elapsed time)."""
        if self._started is not None:
            self._elapsed_before += time.monotonic() - self._started
        self._started = None

    def elapsed(self) -> float:
        """Seconds run so far, over every run."""
        elapsed = self._elapsed_before
        if self._started is not None:
            elapsed += time.monotonic() - self._started
        return elapsed

    def tick(self) -> None:
        """Update the smoothed rates (EWMA, ~3 s time constant)."""
        now = time.monotonic()
        finished = self._finished()
        bytes_done = self._ledger.bytes_done
        if self._last_tick is not None:
            t0, n0, b0 = self._last_tick
            dt = now - t0
            if dt > 0:
                alpha = 1.0 - math.exp(-dt / RATE_TIME_CONSTANT)
                inst_f = (finished - n0) / dt
                inst_b = (bytes_done - b0) / dt
                if self.files_per_s == 0.0 and self.bytes_per_s == 0.0:
                    self.files_per_s, self.bytes_per_s = inst_f, inst_b
                else:
                    self.files_per_s += alpha * (inst_f - self.files_per_s)
                    self.bytes_per_s += alpha * (inst_b - self.bytes_per_s)
        self._last_tick = (now, finished, bytes_done)

    def eta(self, running: Iterable[Task]) -> float | None:
        """Seconds left at the current rate, or None when unknown. Never below what the
        oldest ``running`` task has run already: quick failures or cancels make the rate high
        while long tasks run."""
        c = self._ledger.counts
        remaining = c[Q] + c[R]
        if not (self.files_per_s > 0 and remaining):
            return None
        now = time.time()
        ran = max((now - (t.started_at or now) for t in running), default=0.0)
        return max(remaining / self.files_per_s, ran)

    def snapshot(
        self,
        *,
        retrying: int,
        eta: float | None,
        workers: int,
        paused: bool,
        halted: bool,
        finished: bool,
        idle_since: float | None,
    ) -> Stats:
        """The counts and rates as :class:`Stats`, with what only the engine knows passed in."""
        ledger = self._ledger
        c = ledger.counts
        return Stats(
            total=ledger.total,
            queued=c[Q],
            running=c[R],
            done=c[D],
            failed=c[F],
            cancelled=c[C],
            skipped=c[S],
            retrying=retrying,
            bytes_total=ledger.bytes_total,
            bytes_done=ledger.bytes_done,
            elapsed=self.elapsed(),
            files_per_s=self.files_per_s,
            bytes_per_s=self.bytes_per_s,
            eta=eta,
            workers=workers,
            paused=paused,
            halted=halted,
            finished=finished,
            idle_since=idle_since,
        )
