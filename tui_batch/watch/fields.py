"""What a watch tells the viewers of its control socket besides its engine's counters.

Why a module of its own: a dashboard attached to a watch that runs elsewhere (the per-user
service) shows the same watch header as one running the watch itself: how changes are
noticed, files settling, idle since, the last file seen. Those live in the
:class:`~.watcher.Watcher`, not in its engine, so the engine's snapshot lacks them;
:class:`WatchFields` hears the watch's events (a few attribute writes each) and is the
``extra`` of the job's control target (:func:`tui_batch.control.serve_engine`): every
``snapshot`` answer then carries them under ``"watch"``, in plain JSON.
"""

from __future__ import annotations

import time
from typing import Any

from .events import WatchEvent, idle_since_wall

__all__ = ["SEEN_KINDS", "WatchFields"]

SEEN_KINDS = frozenset({"arrived", "queued", "duplicate", "unchanged"})
"""Watch events that mean a file under the roots was seen."""


def _json_path(path: str) -> str:
    """A path as JSON can carry it (surrogate escapes of non-UTF-8 names replaced)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class WatchFields:
    """The watch's header fields, kept up to date from its events; call it for the dict."""

    def __init__(self, watcher: Any) -> None:
        self._watcher = watcher
        self.seen = 0
        """New files and new content versions taken (a task each) in this session."""
        self.last_path: str | None = None
        self.last_seen: float | None = None
        self.stopping: str | None = None
        watcher.subscribe(self._on_event)

    def _on_event(self, ev: WatchEvent) -> None:
        kind = ev.kind
        if kind in ("queued", "duplicate"):
            self.seen += 1
        if kind in SEEN_KINDS and ev.path:
            if kind == "arrived" or ev.path != self.last_path:
                self.last_path, self.last_seen = ev.path, time.time()
        elif kind == "stopping":
            self.stopping = ev.message or "finish"

    def __call__(self) -> dict[str, Any]:
        """``{"mode", "settling", "seen", "idle_since", ...}``: idle since as epoch seconds,
        None while there is work; the last file seen with its epoch time."""
        w = self._watcher
        stats = w.engine.snapshot()
        idle = None if stats.running or stats.queued else idle_since_wall(stats)
        return {
            "mode": w.mode, "settling": int(w.settling), "seen": self.seen,
            "idle_since": idle, "roots": [_json_path(r) for r in w.roots],
            "settle": float(w.settle), "stopping": self.stopping,
            "last_path": None if self.last_path is None else _json_path(self.last_path),
            "last_seen": self.last_seen,
        }
