"""What a watch is doing, on top of its dashboard: the roots, files settling, idle, last file.

A watch has no end and no total, so the dashboard's progress and ETA say nothing about it; what
a user glancing at a watch wants to know is what it watches (and how: the OS's notifications
or polling), whether files are arriving and waiting to settle, since when it has had nothing to
do, and which file it saw last. The watcher tells its clients through
:class:`~tui_batch.watch.WatchEvent` objects on the loop thread; this widget only records what
they say (a few attribute writes: a burst of thousands of arrivals must cost the watch
nothing) and redraws its two lines of fixed height when the dashboard's clock ticks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ...control.remote_watch import RemoteWatch
from ...engine.events import Stats
from .. import format as fmt
from ..clock import Clock, SystemClock
from .columns import fit

SEEN_KINDS = frozenset({"arrived", "queued", "duplicate", "unchanged"})
"""Watch events that mean a file under the roots was seen."""


def short_path(path: str) -> str:
    """``path`` with the home folder as ``~`` (roots are absolute: they get long)."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


def under_root(path: str, roots: Sequence[str]) -> str:
    """``path`` relative to the root it is under (the one root is implied), else as is."""
    for root in roots:
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            rel = path[len(prefix):]
            return rel if len(roots) == 1 else os.path.join(os.path.basename(root), rel)
    return path


def printable(text: str) -> str:
    """A path as it can be shown (surrogate escapes of non-UTF-8 names replaced)."""
    return text.encode("utf-8", "replace").decode("utf-8")


class WatchHeader(Vertical):
    """Two lines: what is watched and how; settling, idle since, the last file seen."""

    DEFAULT_CSS = """
    WatchHeader {
        height: 2;
        padding: 0 1;
        background: $panel;
    }
    WatchHeader > Static {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, clock: Clock | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock: Clock = clock or SystemClock()
        """Times of day shown (a frozen clock in tests)."""
        self.roots: tuple[str, ...] = ()
        """The watched folders."""
        self.mode = ""
        """``inotify`` or ``polling`` once watching (empty before)."""
        self.settle = 0.0
        """Seconds a file must stay unchanged before it is taken."""
        self.settling = 0
        """Files waiting for their size and mtime to stay put."""
        self.last_path: str | None = None
        """The last file seen under the roots."""
        self.last_seen: float | None = None
        """Clock time it was seen."""
        self.stopping: str | None = None
        """How the watch is stopping (``finish`` or ``stop``), None while it watches."""
        self._watcher: Any = None
        self.source: Any = None
        """What :meth:`attach` was given (the dashboard's runner)."""
        self._unsubscribe: Callable[[], None] | None = None
        self._idle_key: float | None = None
        self._idle_wall: float | None = None
        self._shown: tuple[str, str] = ("", "")

    def compose(self) -> ComposeResult:
        yield Static("", id="watch-roots", markup=True)
        yield Static("", id="watch-activity", markup=True)

    # ------------------------------------------------------------------ events
    def attach(self, watcher: Any) -> None:
        """Hear ``watcher``'s events (a :class:`~tui_batch.watch.Watcher`); a runner
        attached to a watch running elsewhere is read through :class:`RemoteWatch`."""
        self.detach()
        self.source = watcher
        if getattr(watcher, "remote", False) and not isinstance(watcher, RemoteWatch):
            watcher = RemoteWatch.of_runner(watcher)
        self._watcher = watcher
        self.roots = tuple(getattr(watcher, "roots", ()))
        self.settle = float(getattr(watcher, "settle", 0.0))
        subscribe = getattr(watcher, "subscribe", None)  # (a job that ended has none)
        if subscribe is not None:
            self._unsubscribe = subscribe(self.on_watch_event)

    def detach(self) -> None:
        """Stop hearing the watcher (the screen goes away)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_watch_event(self, event: Any) -> None:
        """Watcher callback, on the loop thread: record, never render."""
        kind = event.kind
        if kind in SEEN_KINDS and event.path:
            if kind == "arrived" or event.path != self.last_path:
                self.last_path = event.path
                self.last_seen = self.clock.time()
        elif kind == "watching":
            self.mode = event.message
        elif kind == "stopping":
            self.stopping = event.message or "finish"
        elif kind == "warning":
            where = f"{printable(event.path)}: " if event.path else ""
            self.notify(f"{where}{event.message}", severity="warning", title="Watch")

    # ----------------------------------------------------------------- drawing
    def idle_since(self, stats: Stats | None) -> float | None:
        """Clock time when the watch ran out of work (None while it has some)."""
        if stats is not None and isinstance(self._watcher, RemoteWatch):  # its own clock's
            return None if stats.running or stats.queued else self._watcher.idle_since
        if stats is None or stats.idle_since is None or stats.running or stats.queued:
            return None
        if stats.idle_since != self._idle_key:
            self._idle_key = stats.idle_since
            # the engine's time is the real monotonic clock; a frozen app clock says "now"
            late = time.monotonic() - stats.idle_since
            real = isinstance(self.clock, SystemClock)
            self._idle_wall = self.clock.time() - (max(0.0, late) if real else 0.0)
        return self._idle_wall

    def lines(self, stats: Stats | None, width: int) -> tuple[str, str]:
        """The two lines (markup) at ``width`` cells."""
        roots = ", ".join(escape(printable(short_path(r))) for r in self.roots) or "-"
        how = [self.mode] if self.mode else ["starting"]
        if self.settle:
            how.append(f"settle {self.settle:g}s")
        first = f"[b]Watching[/] {roots}  [dim]{' · '.join(how)}[/]"
        parts: list[str] = []
        if self.stopping is not None:
            parts.append("[b $warning]stopping[/]: " + (
                "letting running tasks finish" if self.stopping == "finish"
                else "stopping running tasks"))
        parts.append(f"settling [b]{self.settling:,}[/]")
        idle = self.idle_since(stats)
        if idle is not None:
            now = self.clock.time()
            parts.append(f"idle since [b]{_clock(idle)}[/]"
                         + (f" ({fmt.ago(idle, now)})" if now - idle >= 60 else ""))
        elif stats is not None and (stats.running or stats.queued):
            parts.append(f"busy: [b]{stats.running:,}[/] running, [b]{stats.queued:,}[/] queued")
        used = sum(len(_plain(p)) for p in parts) + 2 * len(parts)
        if self.last_path is not None and self.last_seen is not None:
            when = f" at {_clock(self.last_seen)}"
            room = max(8, width - used - len("last ") - len(when))
            name = fit(printable(under_root(self.last_path, self.roots)), room, keep_tail=True)
            parts.append(f"last [b]{escape(name.rstrip())}[/]{when}")
        else:
            parts.append("[dim]no file seen yet[/]")
        return first, "  ".join(parts)

    def refresh_text(self, stats: Stats | None) -> None:
        """Redraw (the dashboard's tick and statistics updates)."""
        if isinstance(self._watcher, RemoteWatch):
            self._heard_remote(self._watcher)
        elif self._watcher is not None:
            self.settling = int(getattr(self._watcher, "settling", 0))
        width = self.content_size.width or 78
        shown = self.lines(stats, width)
        if shown != self._shown:
            self._shown = shown
            self.query_one("#watch-roots", Static).update(shown[0], layout=False)
            self.query_one("#watch-activity", Static).update(shown[1], layout=False)

    def _heard_remote(self, remote: RemoteWatch) -> None:
        """The fields the watch's socket last gave (asked again once a second)."""
        remote.poll()
        self.roots, self.settle, self.settling = remote.roots, remote.settle, remote.settling
        self.mode, self.stopping = remote.mode, remote.stopping or self.stopping
        if remote.last_path is not None and remote.last_seen is not None:
            self.last_path, self.last_seen = remote.last_path, remote.last_seen

    def text(self) -> str:
        """Both lines as plain text (tests)."""
        return "\n".join(_plain(line) for line in self._shown)


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _plain(markup: str) -> str:
    return Content.from_markup(markup).plain
