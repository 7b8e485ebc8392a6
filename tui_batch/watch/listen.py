"""The OS watch: the watchfiles generator, kept running whatever happens to it.

:func:`watchfiles.awatch` hands over unordered sets of ``(change, path)``. Around it this
module owns what keeps a long watch alive: hitting the inotify watch or instance limit switches
to polling with a warning instead of failing; a watcher that fails later (a file name that is
not UTF-8) is re-created with a back-off; a root that is removed or unmounted is waited for,
and watched again when it is back. Every re-creation asks for a reconcile scan (what happened
while nobody was listening), and so does a burst big enough that inotify may have dropped
events. It hands the changes on untouched: judging paths is the intake's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat as _stat
from collections.abc import Awaitable, Callable
from typing import Any

from watchfiles import Change, awatch

__all__ = ["DEBOUNCE_MS", "Listener", "is_watch_limit_error", "leaf_errors"]

DEBOUNCE_MS = 400  # longest watchfiles groups changes before handing them over
_BURST = 500  # changes in one batch that make a reconcile scan worth it (inotify may drop)
_BURST_QUIET = DEBOUNCE_MS / 1000 + 0.6  # ... that scan starts once the burst is over

Changes = set[tuple[Change, str]]


def is_watch_limit_error(exc: BaseException) -> bool:
    """Did the OS refuse more watches (inotify ``max_user_watches`` / ``max_user_instances``)?

    watchfiles reports a watch that cannot be added as ``OSError("OS file watch limit reached.
    (... MaxFilesWatch ...)")`` when it starts, a limit hit later (a new sub-folder) as
    ``WatchfilesRustInternalError("error in underlying watcher: OS file watch limit reached.")``,
    and a refused inotify instance as ``... Too many open files (os error 24)``.
    """
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EMFILE):
        return True
    text = str(exc).lower()
    return any(
        m in text
        for m in ("watch limit", "maxfileswatch", "max_user_watches", "too many open files",
                  "os error 28", "os error 24", "no space left on device")
    )


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """The real errors inside (nested) exception groups (awatch runs in an anyio task group)."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for e in exc.exceptions:
            out.extend(leaf_errors(e))
        return out or [exc]
    return [exc]


class Listener:
    """Runs the watchfiles generator on ``roots`` until stopped, and keeps it running.

    Callbacks (all on the loop thread): ``open_watch(polling)`` makes the generator (the
    watcher's overridable hook; :meth:`awatch` by default), ``on_changes(changes)`` gets every
    batch (empty ones too: a quiet second), ``on_started()`` once the first OS watch is in
    place, ``rescan(delay)`` asks for a reconcile scan, ``warn(message)`` reports trouble, and
    ``stopping()`` says when to give up.
    """

    def __init__(
        self,
        roots: tuple[str, ...],
        *,
        polling: bool,
        poll_delay_ms: int,
        on_changes: Callable[[Changes], Awaitable[None]],
        on_started: Callable[[], None],
        rescan: Callable[[float], None],
        warn: Callable[[str], None],
        stopping: Callable[[], bool],
        open_watch: Callable[[bool], Any] | None = None,
    ) -> None:
        self.roots = roots
        self.polling = polling
        self.poll_delay_ms = poll_delay_ms
        self.mode = "polling" if polling else "inotify"
        """How changes are noticed: ``inotify`` (the OS's notifications) or ``polling``."""
        self._on_changes = on_changes
        self._on_started = on_started
        self._rescan = rescan
        self._warn = warn
        self._stopping = stopping
        self._open_watch = open_watch or self.awatch
        self._start_roots: tuple[tuple[int, int] | None, ...] = ()
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        """Called by the watcher's run, in the event loop, before :meth:`run`."""
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End the generator and any wait (stopping)."""
        if self._stop is not None:
            self._stop.set()

    def awatch(self, polling: bool) -> Any:
        """The watchfiles generator."""
        assert self._stop is not None
        return awatch(
            *self.roots,
            watch_filter=None,
            debounce=DEBOUNCE_MS,
            step=50,
            stop_event=self._stop,
            rust_timeout=1000,
            yield_on_timeout=True,  # a heartbeat every quiet second: the roots are checked
            force_polling=polling,
            poll_delay_ms=self.poll_delay_ms,
            recursive=True,
            ignore_permission_denied=True,
        )

    def _root_ids(self) -> tuple[tuple[int, int] | None, ...]:
        ids: list[tuple[int, int] | None] = []
        for r in self.roots:
            try:
                st = os.stat(r)
                ids.append((st.st_dev, st.st_ino) if _stat.S_ISDIR(st.st_mode) else None)
            except OSError:
                ids.append(None)
        return tuple(ids)

    def roots_unchanged(self) -> bool:
        """The roots are the folders the watch started on (not deleted, replaced or
        unmounted): only then may remembered files be forgotten for being absent."""
        return self._root_ids() == self._start_roots

    async def _roots_present(self) -> bool:
        """Wait until every root is a folder again (after it was removed or unmounted)."""
        warned = False
        while not self._stopping():
            if None not in self._root_ids():
                if warned:
                    self._warn("the watched folder is back; watching again")
                return True
            if not warned:
                self._warn("a watched folder went away; waiting for it to come back")
                warned = True
            await self._sleep_unless_stopped(1.0)
        return False

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        assert self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _deliver(self, changes: Changes) -> None:
        if changes and len(changes) >= _BURST:
            self._rescan(_BURST_QUIET)
        await self._on_changes(changes)

    async def run(self) -> None:
        """Run the watchfiles generator, and keep it running: polling when the OS refuses more
        watches, re-created (with a reconcile scan) when it fails or a root is replaced."""
        backoff = 1.0
        started = False
        self._start_roots = self._root_ids()
        while not self._stopping():
            if started and not await self._roots_present():
                return
            gen: Any = None
            watched = self._root_ids()
            try:
                gen = self._open_watch(self.polling)
                first = asyncio.ensure_future(gen.__anext__())
                # awatch creates the OS watch synchronously on its first step, before it
                # hands the wait to a thread; two loop turns later it is in place (or failed).
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                if first.done() and not first.cancelled() and first.exception() is not None:
                    await first
                self.mode = "polling" if self.polling else "inotify"
                if not started:
                    started = True
                    self._on_started()
                else:
                    self._rescan(0.0)  # what happened while nobody was listening
                try:
                    changes = await first
                except StopAsyncIteration:
                    return
                while True:
                    await self._deliver(changes)
                    if self._root_ids() != watched:
                        break  # a root was removed or replaced: its OS watch is gone
                    backoff = 1.0
                    try:
                        changes = await gen.__anext__()
                    except StopAsyncIteration:
                        return
            except Exception as exc:
                errors = leaf_errors(exc)
                if not self.polling and any(is_watch_limit_error(e) for e in errors):
                    self.polling = True
                    self._warn(
                        f"the OS refused more file watches ({errors[0]}); polling instead "
                        "(slower; raise fs.inotify.max_user_watches / max_user_instances "
                        "to avoid this)"
                    )
                    self._rescan(0.0)
                    continue
                if not started:
                    raise
                # e.g. a file name that is not UTF-8 (watchfiles cannot report it): listen
                # again; the reconcile scan finds what was missed, that file included
                self._warn(f"the file watcher failed ({errors[0]}); restarting it")
                await self._sleep_unless_stopped(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                if gen is not None:
                    with contextlib.suppress(BaseException):
                        await gen.aclose()
