"""A watch running in another process (the per-user service), as its dashboard's watch header
reads a :class:`~tui_batch.watch.Watcher`.

Why a module of its own: the header shows what the watch knows and its engine does not (how
changes are noticed, files settling, idle since, the last file seen). The watch's control
socket carries them in each ``snapshot`` answer, under ``"watch"`` (:mod:`tui_batch.watch.
fields`); :class:`RemoteWatch` asks for one at most once a second, when the header redraws,
over the viewer's own connection (a few fields: the job never notices), and offers the
attributes the header reads of a local Watcher.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .remote import RemoteJob

__all__ = ["RemoteWatch"]

ASK_EVERY = 1.0
"""Seconds between two snapshot requests for the watch's fields (the header's tick)."""


class RemoteWatch:
    """The watch of ``job`` (a connected :class:`RemoteJob`) as the header reads it."""

    remote = True

    def __init__(self, job: RemoteJob, roots: list[str] | tuple[str, ...] = (),
                 settle: float = 0.0) -> None:
        self.job = job
        self.roots: tuple[str, ...] = tuple(roots)
        """The watched folders (known before the job answers: the watch handed over)."""
        self.settle = float(settle)
        self.mode = ""
        self.settling = 0
        self.seen = 0
        self.stopping: str | None = None
        self.last_path: str | None = None
        self.last_seen: float | None = None
        self.idle_since: float | None = None
        """Epoch seconds since the watch has had nothing to do (None: busy, or unknown)."""
        self._asked = -ASK_EVERY

    @classmethod
    def of_runner(cls, runner: Any) -> RemoteWatch:
        """For a dashboard's runner attached to a watch (a ServiceRunner knows its roots and
        settle from the watch it hands over; another learns them from the job)."""
        watch = getattr(runner, "watch", None) or {}
        roots = ((watch.get("spec") or {}).get("filter") or {}).get("roots") or ()
        return cls(runner.engine, roots, float(watch.get("settle") or 0.0))

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """No watch events travel on the socket: the fields are asked for (:meth:`poll`)."""
        return lambda: None

    def poll(self) -> None:
        """Take the fields last heard, and ask for newer ones when a second has passed."""
        now = time.monotonic()
        if now - self._asked >= ASK_EVERY:
            self._asked = now
            self.job.ask_watch()
        fields = self.job.watch
        if not fields:
            return
        roots = fields.get("roots")
        if isinstance(roots, list) and roots:
            self.roots = tuple(str(r) for r in roots)
        for name, kinds in (("mode", str), ("settling", int), ("seen", int),
                            ("settle", (int, float)), ("stopping", str), ("last_path", str),
                            ("last_seen", (int, float)), ("idle_since", (int, float))):
            value = fields.get(name)
            if value is None and name in ("stopping", "last_path", "last_seen", "idle_since"):
                setattr(self, name, None)
            elif isinstance(value, kinds) and not isinstance(value, bool):
                setattr(self, name, value)
