"""Outputs are not inputs: recognising the files the action itself wrote inside a root.

Without ``--out`` an action writes beside its input (``a.txt.gz``, ``a.txt_1``, ``a.png``), an
action may change its input in place, and a pipeline's step may write inside a root (a root
inside ``--out``); watching the same folders, those writes come back as events.
:class:`OutputGuard` remembers what the running and just-ended tasks are and which version of
a path the action left behind, so admission can record those files as outputs (never queued,
also across restarts) instead of feeding the action its own results. It reads
the engine's task records; it stores nothing and creates no task. Loop thread only.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import Task, TaskEvent
from ..model import TaskState

__all__ = ["OutputGuard"]

_OWN_MAX = 10_000
_RUN_GRACE = 2.0  # seconds after a task ends during which its siblings count as its outputs


@dataclass(slots=True)
class _Run:
    name: str
    stem: str
    start: float
    end: float | None = None


class OutputGuard:
    """What the action wrote: inputs it changed in place, files beside a running input.

    ``siblings`` (no ``--out``): also track the runs, for the files written beside an input
    while its task ran. ``stat`` is the watch's stat (following symlinks as the filter does).
    """

    def __init__(
        self, *, siblings: bool, stat: Callable[[str], os.stat_result | None]
    ) -> None:
        self.siblings = siblings
        self._stat = stat
        self._own: OrderedDict[str, tuple[int, int]] = OrderedDict()
        # tasks running (by folder, then input path) and recently ended (by folder, oldest
        # first): what the sibling-output rule looks at; both stay small
        self._running: dict[str, dict[str, _Run]] = {}
        self._ended: dict[str, deque[_Run]] = {}

    def on_task_event(self, ev: TaskEvent, task: Task) -> None:
        """Follow the engine: runs start and end, a done task may have changed its input."""
        state = ev.state
        if state is TaskState.RUNNING:
            self.task_started(task)
        elif state.terminal or state is TaskState.INTERRUPTED:
            self.task_ended(task)
            if state is TaskState.DONE:
                self.note_own_version(task)

    def own_version(self, path: str) -> tuple[int, int] | None:
        """``(size, mtime_ns)`` the action left this input at, if it changed it in place."""
        return self._own.get(path)

    def note_own_version(self, task: Task) -> None:
        """An input the action changed in place is the action's output, not a new arrival."""
        st = self._stat(task.path)
        if st is None:
            return
        if (st.st_size, st.st_mtime_ns) != (task.size, task.mtime_ns):
            self._remember(task.path, st)

    def note_output(self, path: str | None, inside: Callable[[str], bool]) -> None:
        """A file a task wrote (a pipeline step's output): if it lies where the watch looks
        (``inside``: a root, not ``--out``), this version of it is the action's, not an
        arrival."""
        if path is None or not inside(path):
            return
        st = self._stat(path)
        if st is not None:
            self._remember(path, st)

    def _remember(self, path: str, st: os.stat_result) -> None:
        self._own[path] = (st.st_size, st.st_mtime_ns)
        self._own.move_to_end(path)
        while len(self._own) > _OWN_MAX:
            self._own.popitem(last=False)

    def task_started(self, task: Task) -> None:
        if not self.siblings:
            return
        folder, name = os.path.split(task.path)
        stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
        self._running.setdefault(folder, {})[name] = _Run(name, stem, time.monotonic())

    def task_ended(self, task: Task) -> None:
        if not self.siblings:
            return
        folder, name = os.path.split(task.path)
        running = self._running.get(folder)
        run = running.pop(name, None) if running else None
        if running is not None and not running:
            del self._running[folder]
        if run is None:
            return
        now = time.monotonic()
        run.end = now
        ended = self._ended.setdefault(folder, deque())
        ended.append(run)
        while ended and (now - (ended[0].end or now) > _RUN_GRACE * 2 or len(ended) > 1000):
            ended.popleft()
        if len(self._ended) > 1000:  # many folders: drop those whose runs are all old
            for f in [f for f, d in self._ended.items() if now - (d[-1].end or now) > 10]:
                del self._ended[f]

    def written_by_a_run(self, path: str, when: float | None) -> bool:
        """Was this path written beside an input while that input's task ran (or just after:
        its events arrive late)? ``when``: its last event (None: only a scan saw it)."""
        if not self.siblings or when is None:
            return False
        folder, name = os.path.split(path)
        runs = list(self._running.get(folder, {}).values())
        runs.extend(self._ended.get(folder, ()))
        for r in runs:
            # "a.txt" -> "a.txt.gz", "a.txt_1", "a.png", "a.1.png"; not "a_2.txt", "ab.txt"
            if r.name == name or not (
                name.startswith(r.stem + ".")
                or (name.startswith(r.name) and name[len(r.name) : len(r.name) + 1] in ("_", "-"))
            ):
                continue
            end = r.end if r.end is not None else when
            if r.start - 0.05 <= when <= end + _RUN_GRACE:
                return True
        return False
