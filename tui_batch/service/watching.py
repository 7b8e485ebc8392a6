"""A watch session in the service (`tui-batch watch --detach`), shaped like the job runners the
host runs.

Why a module of its own: the host (:mod:`.host`) runs every job through the same few calls
(``run``, ``stop``, ``aclose``, ``engine``, ``stopped``); a watch is a
:class:`~tui_batch.watch.Watcher` that never ends by itself. This adapter builds the Watcher
from the registry entry's ``watch`` description (:mod:`tui_batch.watch.handoff`) with the
service's shared limit as its gate, so the watch's tasks take their turn with every other job's,
and counts what it saw for `service status`. The Watcher serves the job's control socket, so
`tui-batch pause/resume/cancel/workers/wait JOB` reach it as any job.

Stopping (``service stop``, SIGTERM) is the watch's own ``--on-stop``: with ``finish`` (the
default) no new task starts and running ones get the kill grace to end; what is left stays in
the job, and `tui-batch watch` with the same command (or the next ``--detach``) picks it up.
"""

from __future__ import annotations

import logging
from typing import Any

from ..engine import Engine, SharedLimit
from ..store import Store
from ..watch import Watcher, WatchEvent
from ..watch.handoff import watcher_args
from .registry import Entry

__all__ = ["WatchRunner"]


class WatchRunner:
    """One detached watch: built in a thread (it opens the store's watch state), run and
    stopped on the service's loop."""

    def __init__(self, store: Store, entry: Entry, gate: SharedLimit) -> None:
        # watchfiles says "N changes detected" at INFO for every batch: in the service's log
        # (INFO) a busy watch would bury everything else
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
        spec, kwargs = watcher_args(entry.watch)
        self.watcher = Watcher(spec, store, gate=gate, **kwargs)
        self.job_id = self.watcher.job_id
        self.engine: Engine = self.watcher.engine
        self.name = f"watch {self.watcher.label}"
        self.seen = 0
        """New files and new content versions taken in this session (a task each; a file
        noticed twice, by an event and a scan, counts once)."""
        self.watcher.subscribe(self._on_event)

    def _on_event(self, ev: WatchEvent) -> None:
        if ev.kind in ("queued", "duplicate"):
            self.seen += 1

    @property
    def stopped(self) -> bool:
        return self.watcher.stopping

    def stop(self) -> None:
        self.watcher.stop()

    async def run(self) -> int:
        return await self.watcher.run()

    async def aclose(self) -> None:
        await self.watcher.aclose()

    def info(self) -> dict[str, Any]:
        """The watch's part of `service status`."""
        w = self.watcher
        return {"roots": list(w.roots), "mode": w.mode, "settling": w.settling,
                "seen": self.seen}
