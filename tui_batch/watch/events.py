"""What a watch tells its clients: the :class:`WatchEvent` stream and the :class:`WatchError`.

The dashboard and the headless output (``tui-batch watch``) render these; every part of the
watch produces them (the settle table announces arrivals, admission reports queued,
duplicate, unchanged and output files, the reconcile scan its result). Plain data, so the parts
and the clients share it without depending on each other; :class:`EventHub` hands it to the
clients and keeps a broken one from stopping the watch.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine import Stats
from ..errors import TuiBatchError

__all__ = ["EventHub", "WatchError", "WatchEvent", "idle_since_wall"]

log = logging.getLogger("tui_batch.watch")  # (the name it had as one module)


class WatchError(TuiBatchError):
    """The watch cannot go on (a root vanished, the watcher failed without a fallback)."""


@dataclass(slots=True)
class WatchEvent:
    """Something the watcher did, for the dashboard and the headless output.

    ``kind``: ``watching`` (listening; ``message`` is ``inotify`` or ``polling``),
    ``arrived`` (a file entered the settle window), ``queued`` (a task was created;
    ``task_id``), ``duplicate`` (a task was created skipped: same content as ``data["of"]``),
    ``unchanged`` (touched but same content: no task), ``output`` (written by the action:
    ignored), ``scan`` (a reconcile scan ended; ``data``: ``reason``, ``new``), ``warning``,
    ``stopping``.
    """

    kind: str
    path: str | None = None
    task_id: int | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class EventHub:
    """The watch's subscribers, called for every event (on the loop thread)."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[WatchEvent], None]] = []

    def subscribe(self, callback: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns the function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, ev: WatchEvent) -> None:
        for cb in list(self._subscribers):
            try:
                cb(ev)
            except Exception:  # a broken client must not stop the watch
                log.exception("watch subscriber %r failed; unsubscribed", cb)
                with contextlib.suppress(ValueError):
                    self._subscribers.remove(cb)

    def warn(self, message: str, path: str | None = None) -> None:
        """Log a warning and emit it as a ``warning`` event."""
        log.warning("%s", message)
        self.emit(WatchEvent("warning", path, message=message))


def idle_since_wall(st: Stats) -> float | None:
    """``Stats.idle_since`` (monotonic) as epoch seconds, for "idle since 14:02:11"."""
    if st.idle_since is None:
        return None
    return time.time() - (time.monotonic() - st.idle_since)
