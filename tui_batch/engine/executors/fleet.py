"""The fork servers of one :class:`~.subprocess.SubprocessExecutor` (``forkserver`` spawn mode):
how many, which one takes the next spawn, and what happens when they cannot start or die.

One server per worker, up to one per usable CPU (or ``TUI_BATCH_FORKSERVERS``, never more than
the workers): a server is busy only while it spawns (vfork waits for the exec), so spawns for
different workers overlap. A server that dies is replaced; when another cannot start, the run
goes on with the servers it has (one message); when none can work here, the executor is told
(``give_up``) and spawns in-process from then on (:mod:`.spawn`), with the same results. The
packets themselves are :mod:`.forkclient`'s business, the server process :mod:`.forkserver`'s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

from .forkclient import ForkServerDied, _CannotStart, _ForkServer, _Gone, _Running

if TYPE_CHECKING:
    from .spawn import Spawner
    from .spool import Spool

log = logging.getLogger(__name__)

FORKSERVER_START_TIMEOUT = 10.0
"""A fork server that has not said hello by then never will (we spawn in-process instead)."""
MAX_FORKSERVERS = 64
"""Hard upper bound for ``TUI_BATCH_FORKSERVERS`` (more would only cost memory and pids)."""


def forkserver_setting(value: str | None) -> int:
    """``TUI_BATCH_FORKSERVERS``: 0 (unset or unusable) means one per worker, up to one per
    usable CPU; otherwise the number wanted, which the run clamps to its worker count."""
    if value is None or value.strip() == "":
        return 0
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if n < 1:
        log.warning("tui-batch: TUI_BATCH_FORKSERVERS=%r is not a whole number from 1 to %d; "
                    "using the default (one per worker, up to one per CPU)",
                    value, MAX_FORKSERVERS)
        return 0
    if n > MAX_FORKSERVERS:
        log.warning("tui-batch: TUI_BATCH_FORKSERVERS=%s is more than %d; using at most %d",
                    value.strip(), MAX_FORKSERVERS, MAX_FORKSERVERS)
        return MAX_FORKSERVERS
    return n


class ForkServers:
    """The running fork servers and the rules for starting more (see the module docstring).
    ``spawner`` gives them their environment and stdin, and spawns what they cannot take."""

    def __init__(self, spawner: Spawner, give_up: Callable[[str], None]) -> None:
        self.servers: list[_ForkServer] = []
        self.wanted = 0
        """Fork servers wanted (0: one per worker, up to one per usable CPU)."""
        self._spawner = spawner
        self._give_up = give_up  # fork servers cannot work here: the executor spawns itself
        self._limited = False  # a server could not start: keep the ones we have
        self._worked = False  # some server said hello: a failed start is not "cannot work"

    def add(self, workers: int) -> None:
        """Start servers up to what ``workers`` call for. Raises :class:`_CannotStart` only
        when not even one server runs."""
        workers = max(1, workers)
        if self.wanted:
            want = min(self.wanted, workers)
        else:
            want = min(workers, len(os.sched_getaffinity(0)))
        if self._limited:
            want = min(want, max(1, len(self.servers)))
        while len(self.servers) < want:
            try:
                self.servers.append(self._new())
            except _CannotStart as exc:
                if not self.servers:
                    raise
                self._fewer(str(exc))
                return

    def _new(self) -> _ForkServer:
        try:
            return _ForkServer(self._spawner.env, self._spawner.devnull)
        except (OSError, subprocess.SubprocessError) as exc:
            raise _CannotStart(f"cannot start a fork server: {exc}") from exc

    def _fewer(self, why: str) -> None:
        """Some servers run, another cannot start: go on with those (one message)."""
        if not self._limited:
            self._limited = True
            log.warning("tui-batch: %s; going on with %d fork server(s)",
                        why, len(self.servers))

    def _pick(self) -> _ForkServer | None:
        """The least busy server (a dead one is replaced); None: spawn in-process from now on."""
        servers = self.servers
        while True:
            if not servers:
                try:
                    servers.append(self._new())
                except _CannotStart as exc:
                    self._give_up(str(exc))
                    return None
            fs = servers[0]
            if len(servers) > 1:
                for other in servers:
                    if len(other.jobs) < len(fs.jobs):
                        fs = other
            if fs.dead is None:
                return fs
            try:  # it died: start a new one in its place
                new = self._new()
            except _CannotStart as exc:
                servers.remove(fs)
                if not servers:
                    self._give_up(str(exc))
                    return None
                self._fewer(str(exc))
                continue
            servers[servers.index(fs)] = new
            return new

    async def spawn(
        self, loop: asyncio.AbstractEventLoop, argv: list[str], running: _Running
    ) -> int:
        """Hand the spawn to the least busy fork server: the loop only sends one packet.
        Returns the child's wait status."""
        path = self._spawner.resolve(argv[0])
        future: asyncio.Future[int] | None = None
        fs: _ForkServer | None = None
        for _ in range(3):
            fs = self._pick()
            if fs is None:
                break
            if not fs.ready:
                try:
                    await fs.wait_ready(loop, FORKSERVER_START_TIMEOUT)
                except _CannotStart as exc:
                    if fs in self.servers:
                        self.servers.remove(fs)
                    if not self._worked or not self.servers:
                        self._give_up(str(exc))  # none ever worked: they cannot, here
                        fs = None
                        break
                    self._fewer(str(exc))
                    continue
                self._worked = True
                if running.cancelled or running.timed_out:
                    return signal.SIGTERM  # stopped while the server started: never run
            try:
                future = fs.start(loop, path, argv, running)
                break
            except _Gone:
                continue
        else:
            raise ForkServerDied(fs.dead if fs is not None and fs.dead else "fork server died")
        if future is None:  # too big for one request (or no server): spawn it ourselves
            return await self._spawner.in_loop(loop, argv, running)
        return await future

    def forget(self, spool: Spool) -> None:
        """The executor closes ``spool``: the live servers close their copies."""
        for fs in self.servers:
            if fs.dead is None:
                fs.forget(spool)

    def close(self) -> None:
        """End every server (after the executor's kills: a server handles them before it
        sees EOF)."""
        servers, self.servers = self.servers, []
        for fs in servers:
            if fs.dead is None:
                fs.close()
