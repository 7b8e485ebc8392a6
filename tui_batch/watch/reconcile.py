"""Nothing missed: the reconcile scans that catch what the events did not tell.

At start a scan of the roots queues what arrived while tui-batch was not running (and nothing
it already processed); a periodic scan (``--rescan``, 300 s), plus one shortly after every
burst of events or restart of the OS watch, catches events the kernel dropped (inotify's queue
overflows silently under bursts). A scan puts every file whose version is not the remembered
one into the settle table, then forgets remembered paths that no longer exist (only while the
roots are the folders the watch started on).

:class:`Reconciler` owns when to scan (the period, the requested bursts) and the scan itself;
it uses the select package's scanner and the seen table, and admits nothing directly: what it
finds settles like any event.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable

from ..model import FileEntry
from ..select import CompiledFilter, ScanIssue, scan
from ..store import WatchState
from .events import WatchEvent
from .settle import SettleTable

__all__ = ["Reconciler"]


class Reconciler:
    """Schedules and runs the reconcile scans of a watch.

    ``period`` is ``--rescan`` (None: only the start-up and burst scans); ``cf`` the watch's
    compiled filter; ``state``/``watch_row`` the seen table; ``stat`` and ``is_temp`` the
    intake's; ``settle`` receives what is found; ``cancel`` ends a scan early;
    ``roots_unchanged`` says whether absent files may be forgotten; ``emit``/``warn`` report;
    ``stopping`` says when to give up.
    """

    def __init__(
        self,
        *,
        period: float | None,
        cf: CompiledFilter,
        state: WatchState,
        watch_row: int,
        stat: Callable[[str], os.stat_result | None],
        is_temp: Callable[[str], bool],
        settle: SettleTable,
        cancel: threading.Event,
        roots_unchanged: Callable[[], bool],
        emit: Callable[[WatchEvent], None],
        warn: Callable[[str, str | None], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.period = period
        self.cf = cf
        self.state = state
        self.watch_row = watch_row
        self._stat = stat
        self._is_temp = is_temp
        self._settle = settle
        self._cancel = cancel
        self._roots_unchanged = roots_unchanged
        self._emit = emit
        self._warn = warn
        self._stopping = stopping
        self._after = 0.0
        self._requested = False
        self._now: asyncio.Event | None = None

    def start(self) -> None:
        """Called by the watcher's run, in the event loop, before :meth:`run`."""
        self._now = asyncio.Event()

    def wake(self) -> None:
        """Wake the scheduling loop now (stopping)."""
        if self._now is not None:
            self._now.set()

    def request(self, delay: float) -> None:
        """A reconcile scan ``delay`` seconds after the last request (bursts: after the dust
        settles, so the scan sees the files that made it, not half of them)."""
        self._after = time.monotonic() + delay
        self._requested = True
        if self._now is not None:
            self._now.set()

    async def run(self) -> None:
        """The start-up scan, then the periodic and requested ones until stopping."""
        assert self._now is not None
        await self.reconcile("start")
        next_periodic = None if self.period is None else time.monotonic() + self.period
        while not self._stopping():
            self._now.clear()
            now = time.monotonic()
            burst = self._after if self._requested else None
            targets = [t for t in (next_periodic, burst) if t is not None]
            target = min(targets) if targets else None
            if target is not None and target <= now:
                reason = "periodic"
                if burst is not None and burst <= now:
                    self._requested = False
                    reason = "burst"
                await self.reconcile(reason)
                if self.period is not None:
                    next_periodic = time.monotonic() + self.period
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._now.wait(),
                                       None if target is None else target - now)

    async def reconcile(self, reason: str) -> None:
        """Scan the roots; every file whose version is not the one remembered goes into the
        settle table. Then forget remembered paths that no longer exist."""
        issues: list[ScanIssue] = []
        try:
            found = await asyncio.to_thread(self._scan, issues)
        except Exception as exc:
            if not self._stopping():
                self._warn(f"reconcile scan failed: {exc}", None)
            return
        if self._stopping():
            return
        now = time.monotonic()
        new = 0
        for path, st in found:
            new += path not in self._settle
            self._settle.observe(path, now, st, event=False)
        for issue in issues[:100]:
            # a root that went away matters every time; other issues once, at start
            if reason == "start" or issue.kind == "missing":
                self._warn(f"{issue.kind}: {issue.message}", issue.path)
        self._emit(WatchEvent("scan", data={"reason": reason, "new": new,
                                             "issues": len(issues)}))

    def _scan(self, issues: list[ScanIssue]) -> list[tuple[str, os.stat_result]]:
        """The scan itself, on a worker thread: files not at their remembered version."""
        out: list[tuple[str, os.stat_result]] = []
        batch: list[FileEntry] = []

        def flush() -> None:
            known = self.state.lookup(self.watch_row, [e.path for e in batch])
            for e in batch:
                k = known.get(e.path)
                if k is not None and (k.size, k.mtime_ns) == (e.size, e.mtime_ns):
                    continue
                if self._is_temp(e.rel.rpartition("/")[2]):
                    continue
                st = self._stat(e.path)
                if st is not None:
                    out.append((e.path, st))
            batch.clear()

        for entry in scan(self.cf, on_issue=issues.append, cancel=self._cancel):
            batch.append(entry)
            if len(batch) >= 1000:
                flush()
        if batch:
            flush()
        if not self._cancel.is_set() and self._roots_unchanged():
            # (not when a root is missing, replaced or unmounted: its files would all be
            # forgotten, and processed again when it comes back)
            self.state.sweep_missing(self.watch_row)
        return out
