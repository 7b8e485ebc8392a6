"""Watch mode: keep running, and run the action once on every new or changed file.

Built on :func:`watchfiles.awatch` (the same async generator headless and in a Textual worker),
with what a watch folder needs that a file-change stream does not give. Events are hints, the
file system is the truth: an event only means "look at this path". The flow, one module each:

    listen  (the OS watch, kept alive: polling fallback, restarts, roots that vanish)
      -> intake  (cheap checks: temporary names (temp), --out, folder rules; one stat)
      -> settle  (wait until size and mtime stay put; folders that appear are walked)
      -> admit   (exactly one task per content version, against the seen table)
      -> the live engine of the watch's job (job, engines; with [[steps]] a pipeline that
         takes each version through every step), whose events teach outputs what the
         action wrote;
    reconcile (start-up, periodic and burst rescans) feeds settle too, so nothing is missed.

:class:`Watcher` (watcher) wires them and owns the session: the lock, the job, the engine,
the event stream (events) and stopping. The watch imports errors, model, actions, select,
store, engine and jobs; no Textual here: the TUI drives a :class:`Watcher` through ``engine``,
``subscribe`` and ``stop`` like the headless CLI does.
"""

from __future__ import annotations

from .events import WatchError, WatchEvent, idle_since_wall
from .job import watch_identity
from .listen import is_watch_limit_error
from .settings import DEFAULT_RESCAN, DEFAULT_RETAIN, DEFAULT_SETTLE, ON_STOP_CHOICES
from .temp import TEMP_PATTERNS, is_temp_name
from .watcher import Watcher

__all__ = [
    "DEFAULT_RESCAN",
    "DEFAULT_RETAIN",
    "DEFAULT_SETTLE",
    "ON_STOP_CHOICES",
    "TEMP_PATTERNS",
    "WatchError",
    "WatchEvent",
    "Watcher",
    "idle_since_wall",
    "is_temp_name",
    "is_watch_limit_error",
    "watch_identity",
]
