"""The settle table: paths waiting until their size and mtime have stayed the same.

An event only means "look at this path"; watchfiles has no close-write event and 'added' fires
after the first bytes. So every path that may be a new file version waits here until it has
been stable for the settle window (``--settle``); each new stat that sees something else
restarts its window, so a file written in chunks over minutes comes out once, after the last
write. The window is measured from the file's mtime when that is recent (up to half the window
is credited), so the latency from the last write to its task is the window plus a few
milliseconds, not plus the event delivery delay.

:class:`SettleTable` owns the pending paths and the heap of their due times and decides which
are due and, with a fresh stat, what each has become (settled file, gone, folder, changed
again). It does not walk, forget or admit anything: the watcher does that with what it hands
out. Loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import stat as _stat
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Pending", "Resolved", "SettleTable", "Sig", "file_sig"]

_MTIME_SLACK = 0.02  # file timestamps come from a coarse clock (one kernel tick, <= 10 ms)
_STAT_IN_THREAD = 256  # more due paths than this: stat them off the event loop

Sig = tuple[int, int, int, int] | str | None
"""What a stat saw: (size, mtime_ns, dev, ino) for a file, "dir" for a folder, "other" for
anything else, None when missing."""


def file_sig(st: os.stat_result | None) -> Sig:
    """The :data:`Sig` of a stat result (None: the path is missing)."""
    if st is None:
        return None
    if _stat.S_ISDIR(st.st_mode):
        return "dir"
    if _stat.S_ISREG(st.st_mode):
        return (st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)
    return "other"


@dataclass(slots=True)
class Pending:
    """A path in the settle table. ``sig`` is what the last stat saw (:data:`Sig`);
    ``last_event`` when a file-system event last named it (None: only scans did)."""

    path: str
    sig: Sig
    due: float
    last_event: float | None


@dataclass(slots=True)
class Resolved:
    """What the due paths turned out to be (:meth:`SettleTable.resolve`)."""

    settled: list[tuple[Pending, os.stat_result]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # missing now (or not a file any more)
    folders: list[str] = field(default_factory=list)  # to be walked


class SettleTable:
    """The pending paths, each with the time its settle window ends.

    ``stat`` is the watch's stat (None: missing); ``on_arrived(path)`` is called when a file
    (not a folder, not a missing path) enters the table. :meth:`start` (in the event loop)
    enables waking the settle loop early when a path becomes due before the one it waits for.
    """

    def __init__(
        self,
        settle: float,
        stat: Callable[[str], os.stat_result | None],
        on_arrived: Callable[[str], None],
    ) -> None:
        self.settle = settle
        self._stat = stat
        self.pending: dict[str, Pending] = {}
        self._on_arrived = on_arrived
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._wake: asyncio.Event | None = None

    def __contains__(self, path: object) -> bool:
        return path in self.pending

    def __len__(self) -> int:
        return len(self.pending)

    @property
    def settling(self) -> int:
        """Files waiting for their size and mtime to stay put (folders and gone paths not)."""
        return sum(1 for p in self.pending.values() if isinstance(p.sig, tuple))

    def start(self) -> None:
        """Called by the watcher's run, in the event loop, before the settle loop starts."""
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Wake the settle loop now (stopping)."""
        if self._wake is not None:
            self._wake.set()

    def observe(
        self, path: str, now: float, st: os.stat_result | None, *, event: bool
    ) -> None:
        """Put a path into the settle table, or restart its window if it changed."""
        sig = file_sig(st)
        if sig == "other":
            return
        p = self.pending.get(path)
        if p is not None and p.sig == sig:
            if event:
                p.last_event = now
            return
        if sig == "dir":
            due = now
        elif sig is None:
            due = now + self.settle
        else:
            assert st is not None
            age = time.time() - st.st_mtime_ns / 1e9 - _MTIME_SLACK
            due = now + self.settle - min(max(age, 0.0), self.settle / 2)
        if p is None:
            p = self.pending[path] = Pending(path, sig, due, now if event else None)
            if isinstance(sig, tuple):
                self._on_arrived(path)
        else:
            p.sig, p.due = sig, due
            if event:
                p.last_event = now
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, path))
        if self._wake is not None and self._heap[0][2] == path:
            self._wake.set()

    def pop_due(self, now: float) -> list[Pending]:
        """The paths whose window has ended by ``now`` (they stay in the table until
        :meth:`resolve`)."""
        due: list[Pending] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, path = heapq.heappop(heap)
            p = self.pending.get(path)
            if p is not None and p.due == when:
                due.append(p)
        return due

    async def run(
        self,
        on_due: Callable[[list[Pending]], Awaitable[None]],
        stopping: Callable[[], bool],
    ) -> None:
        """The settle loop: hand the due paths to ``on_due`` (which calls :meth:`resolve`) as
        their windows end, until ``stopping()``."""
        while not stopping():
            now = time.monotonic()
            due = self.pop_due(now)
            if not due:
                await self.wait(now)
                continue
            await on_due(due)

    async def wait(self, now: float) -> None:
        """Sleep until the next window ends (measured from ``now``) or :meth:`observe` /
        :meth:`wake` brings that forward."""
        assert self._wake is not None
        self._wake.clear()
        timeout = self._heap[0][0] - now if self._heap else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def resolve(self, due: Sequence[Pending]) -> Resolved:
        """Stat the due paths again and settle them with what each is now: unchanged files
        are settled, changed ones wait another window, missing ones and folders leave."""
        paths = [p.path for p in due]
        stat = self._stat
        if len(paths) > _STAT_IN_THREAD:
            stats = await asyncio.to_thread(lambda: [stat(x) for x in paths])
        else:
            stats = [stat(x) for x in paths]
        now = time.monotonic()
        out = Resolved()
        for p, st in zip(due, stats, strict=True):
            if self.pending.get(p.path) is not p:
                continue
            sig = file_sig(st)
            if sig is None or sig == "other":
                del self.pending[p.path]
                out.gone.append(p.path)
            elif sig == "dir":
                del self.pending[p.path]
                out.folders.append(p.path)
            elif sig != p.sig:
                self.observe(p.path, now, st, event=False)
            else:
                del self.pending[p.path]
                assert st is not None
                out.settled.append((p, st))
        return out
