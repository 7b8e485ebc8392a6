"""One worker limit shared by several engines on one event loop: the service's machine-wide
queue (issue 11), where two `-j 4` jobs under `service start --workers 2` never run more than
two tasks at once.

Why a module of its own: an engine's worker count (``-j``) limits one job; a
:class:`SharedLimit` limits every engine that holds it. A worker takes a permit before it
takes its next task and gives it back when that attempt ends (:mod:`.workers`). When a permit
is freed, it goes to the waiting worker whose engine's queue head has the highest priority,
the one that has waited longest first within a level, so an urgent job's tasks start before a
normal job's queued ones, and jobs of one level take turns.

Groups (``tui-batch group add NAME --workers N``) are limits inside the global one: a
``SharedLimit(n, parent=global_limit)``. A task of a grouped job needs a permit of its group
*and* one of the global limit. Both are taken in one step, never one after the other: a
waiter is granted only when every limit of its chain has room, and then takes them all at
once. So nobody ever holds a group permit while waiting for a global one (or the reverse):
there is no hold-and-wait, hence no deadlock, and a full group never keeps global permits
idle that other jobs could use. Every holder is an attempt that runs; when it ends, its
permits go back.

Everything runs on the loop thread (no lock). With no contention (one job, or permits to
spare) a permit is two integer updates per task; waiters and futures exist only when workers
really wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Permit", "SharedLimit"]

Peek = Callable[[], int | None]
"""The priority of the task an engine would start next, or None (nothing may start now:
empty, paused, stopping...). A waiter of such an engine is passed over until it has one."""


class Permit:
    """One worker's wait for a permit of ``limit`` (and of every limit above it)."""

    __slots__ = ("future", "granted", "limit", "peek")

    def __init__(self, limit: SharedLimit, peek: Peek) -> None:
        self.limit = limit
        self.peek = peek
        self.granted = False
        self.future: asyncio.Future[None] | None = None


class SharedLimit:
    """At most ``limit`` attempts at once across every engine that holds this limit (or a
    group limit under it). ``parent``: the limit this one is a group of."""

    __slots__ = ("_chain", "_root", "_waiters", "in_use", "limit", "name", "parent")

    def __init__(self, limit: int, *, parent: SharedLimit | None = None,
                 name: str | None = None) -> None:
        self.limit = max(1, int(limit))
        self.in_use = 0
        """Permits held now (= attempts running under this limit)."""
        self.parent = parent
        self.name = name
        chain: list[SharedLimit] = [self]
        while (up := chain[-1].parent) is not None:
            chain.append(up)
        self._chain = tuple(chain)
        self._root = chain[-1]
        self._waiters: list[Permit] = []  # on the root only: every worker waiting, in order

    def __repr__(self) -> str:
        return f"SharedLimit({self.name or 'global'}: {self.in_use}/{self.limit})"

    @property
    def waiting(self) -> int:
        """Workers waiting for a permit (of any limit under the same root)."""
        return len(self._root._waiters)

    def set_limit(self, n: int) -> None:
        """Change the limit live: lowering it lets running attempts finish; raising it hands
        the new permits to waiters at once."""
        self.limit = max(1, int(n))
        self._root.dispatch()

    def _room(self) -> bool:
        return all(lim.in_use < lim.limit for lim in self._chain)

    def _take(self) -> None:
        for lim in self._chain:
            lim.in_use += 1

    def try_take(self) -> bool:
        """Take a permit now if nobody waits for one and there is room (the fast path: plain
        loops, no generator, since it runs once per task)."""
        if self._root._waiters:
            return False
        chain = self._chain
        for lim in chain:
            if lim.in_use >= lim.limit:
                return False
        for lim in chain:
            lim.in_use += 1
        return True

    def release(self) -> None:
        """Give back a permit taken by :meth:`try_take` or granted to a :class:`Permit`."""
        for lim in self._chain:
            lim.in_use -= 1
        if self._root._waiters:
            self._root.dispatch()

    async def acquire(self, peek: Peek) -> None:
        """Wait for a permit (after :meth:`try_take` said no). Cancelled meanwhile, the
        worker leaves the queue (and gives back a permit granted in between)."""
        permit = Permit(self, peek)
        root = self._root
        root._waiters.append(permit)
        root.dispatch()
        if permit.granted:
            return
        permit.future = fut = asyncio.get_running_loop().create_future()
        try:
            await fut
        except BaseException:
            if permit.granted:
                self.release()
            elif permit in root._waiters:
                root._waiters.remove(permit)
            raise

    def dispatch(self) -> None:
        """Hand free permits to the waiters that may use them: highest queue head first,
        longest waiting first within a level. Call it when an engine may have something to
        start again (resumed, tasks submitted), since a waiter with nothing to start was
        passed over. Only meaningful on the root (any limit forwards there)."""
        root = self._root
        waiters = root._waiters
        while waiters and root.in_use < root.limit:
            best: Permit | None = None
            best_priority = -1
            seen: dict[int, int | None] = {}  # one peek per engine per round
            for permit in waiters:
                key = id(permit.peek)
                if key in seen:
                    priority = seen[key]
                else:
                    priority = seen[key] = permit.peek()
                if priority is None or priority <= best_priority or not permit.limit._room():
                    continue
                best, best_priority = permit, priority
            if best is None:
                return
            waiters.remove(best)
            best.limit._take()
            best.granted = True
            if best.future is not None and not best.future.done():
                best.future.set_result(None)
