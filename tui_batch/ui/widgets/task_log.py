"""The dashboard's log pane, following the task under the cursor.

:class:`~.log_pane.LogPane` renders one task; this widget decides what to render it with. The
engine's memory answers at once (state, error, the 4 KiB tails); the whole kept output and
the attempt history are in the store and the log files, and reading them may mean waiting
for queued writes and 10 MiB of file: that is done in a thread, never on the event loop, a
moment after the cursor stops (holding an arrow key reads nothing), and kept in a small
cache so moving the cursor back and forth does not read it again. A running task's output is
read as it grows (:class:`~.task_output.LiveFollower`), twice a second, only what is new.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.timer import Timer
from textual.worker import get_current_worker

from ...model import TaskState
from ...model.logfiles import DEFAULT_MAX_OUTPUT
from .log_lines import Fed, Section, StreamLines
from .log_pane import LogPane
from .task_output import LiveFollower, attempt_output, stream_section, update_stream_section

if TYPE_CHECKING:
    from ...store import Store

CACHED_TASKS = 256
"""Tasks whose attempts are kept (a cache, not a copy of the store)."""
CACHED_OUTPUT = 4 << 20
"""Output kept in the cache, in bytes (one big output is read again rather than kept)."""
LOAD_DELAY = 0.08
"""Seconds the cursor rests on a task before its output is read."""

Key = tuple[int, int, Any]
"""What the pane shows: task id, attempts made, state."""


def _sections(streams: list[tuple[str, StreamLines, int, bool]]) -> list[Section]:
    """stderr first: in a small pane a failed task's diagnostics come before its stdout."""
    by_name = {name: (lines, total, tail) for name, lines, total, tail in streams}
    return [
        stream_section(name, by_name[name][0], total=by_name[name][1], tail_only=by_name[name][2])
        for name in ("stderr", "stdout")
        if name in by_name
    ]


class TaskLog(LogPane):
    """Shows the selected task: from the engine now, with its output from the store."""

    def __init__(
        self,
        store: Store,
        selected: Callable[[], Any],
        max_attempts: Callable[[], int],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.store = store
        """Where the attempts and the output are read."""
        self.selected = selected
        """The task to show now (an engine Task), or None."""
        self.max_attempts = max_attempts
        """Attempts a task may have (retries + 1), as the job's settings say now."""
        self._attempts: OrderedDict[int, list[Any]] = OrderedDict()
        self._output: OrderedDict[Key, list[Section]] = OrderedDict()
        self._key: Key | None = None
        self._streams: list[Section] | None = None
        self._job_id: int | None = None
        self._timer: Timer | None = None
        self._follower: LiveFollower | None = None
        self._live: tuple[StreamLines, StreamLines] | None = None
        self._reading = False

    def follow(self, engine: Any) -> None:
        """Show the selected task now from the engine's memory; read its output (and its
        attempts) in a thread when what is shown is not up to date."""
        task = self.selected()
        if task is None:
            self._key = self._streams = None
            self.show_task(None)
            return
        key: Key = (task.id, task.attempts, task.state)
        attempts = self._attempts.get(task.id, [])
        if key == self._key:  # same state: the header may say more (a reason, an error)
            self._show(task, attempts)
            return
        same_task = self._key is not None and self._key[0] == task.id
        self._key = key
        self._follower = None
        if task.state is TaskState.RUNNING:
            self._live = (StreamLines(), StreamLines())
            out, err = self._live
            self._streams = [stream_section("stderr", err, total=0, running=True),
                             stream_section("stdout", out, total=0, running=True)]
            self._show(task, attempts, at="follow" if same_task else "end")
            self._read_live(engine)
            return
        self._live = None
        cached = self._output.get(key)
        self._streams = cached
        # a task that ends under the cursor shows its state and stderr, unless the user is
        # reading its output in the pane
        self._show(task, attempts, at="follow" if same_task and self.has_focus else "top")
        if cached is None:
            self._schedule_load(key)

    def refresh_live(self, engine: Any) -> None:
        """Twice a second: what the selected running task printed since the last time."""
        task = self.selected()
        if task is not None and task.state is TaskState.RUNNING:
            if (task.id, task.attempts, task.state) != self._key:
                self.follow(engine)
            else:
                self._read_live(engine)

    def _show(self, task: Any, attempts: list[Any], at: Any = None) -> None:
        self.show_task(task, attempts=attempts, max_attempts=self.max_attempts(),
                       streams=self._streams, at=at)

    # ----------------------------------------------------------- finished task
    def _schedule_load(self, key: Key) -> None:
        if self._timer is not None:
            self._timer.stop()
        if getattr(self.app, "deterministic", False):
            self._load(key)  # tests and snapshots wait for workers, not for timers
        else:
            self._timer = self.set_timer(LOAD_DELAY, lambda: self._load(key))

    @work(thread=True, exclusive=True, group="task-log")
    def _load(self, key: Key) -> None:
        """Read a task's attempts and its last attempt's whole output (in a thread)."""
        task_id, n = key[0], key[1]
        try:
            job_id = self._find_job(task_id)
            attempts = self.store.attempts(task_id)
            record = next((a for a in reversed(attempts) if a.n == n), None)
            streams = []
            if record is not None and job_id is not None:
                for name, out in zip(("stdout", "stderr"),
                                     attempt_output(self.store, job_id, record), strict=True):
                    streams.append((name, StreamLines(out.data), out.total, out.tail_only))
        except Exception:  # store closed or busy: the pane keeps the engine's view
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._loaded, key, attempts, _sections(streams))

    def _find_job(self, task_id: int) -> int | None:
        if self._job_id is None:
            record = self.store.get_task(task_id)
            self._job_id = None if record is None else record.job_id
        return self._job_id

    def _loaded(self, key: Key, attempts: list[Any], streams: list[Section]) -> None:
        self._remember(key[0], attempts)
        if sum(s.stream.size for s in streams if s.stream) <= CACHED_OUTPUT:
            self._output[key] = streams
            self._output.move_to_end(key)
            while len(self._output) > CACHED_TASKS or (
                sum(s.stream.size for v in self._output.values() for s in v if s.stream)
                > CACHED_OUTPUT
            ):
                self._output.popitem(last=False)
        task = self.selected()
        if task is None or self._key != key or not self.is_attached:
            return
        self._streams = streams
        self._show(task, attempts, at="keep")

    def _remember(self, task_id: int, attempts: list[Any]) -> None:
        self._attempts[task_id] = attempts
        self._attempts.move_to_end(task_id)
        if len(self._attempts) > CACHED_TASKS:
            self._attempts.popitem(last=False)

    # ------------------------------------------------------------ running task
    def _read_live(self, engine: Any) -> None:
        if self._reading or self._key is None or self._live is None:
            return
        cap = getattr(getattr(engine, "settings", None), "max_output", DEFAULT_MAX_OUTPUT)
        self._reading = True
        self._live_worker(self._key, cap)

    @work(thread=True, group="task-log-live")
    def _live_worker(self, key: Key, cap: int) -> None:
        """Read what the running attempt added to its output files (in a thread)."""
        result: tuple[LiveFollower, list[Fed]] | None = None
        try:
            follower = self._follower
            if follower is None:
                job_id = self._find_job(key[0])
                if job_id is not None:
                    follower = LiveFollower(self.store, job_id, key[0], key[1], cap)
            chunks = follower.read() if follower is not None else None
            live = self._live
            if follower is not None and chunks is not None and live is not None:
                result = follower, [live[i].prepare(chunks[i]) for i in (0, 1)]
        except Exception:  # store closed, file gone: the next tick tries again
            result = None
        if not get_current_worker().is_cancelled:  # cancelled: the pane is gone
            self.app.call_from_thread(self._live_read, key, result)

    def _live_read(self, key: Key, result: tuple[LiveFollower, list[Fed]] | None) -> None:
        self._reading = False
        if result is None or key != self._key or self._live is None or not self.is_attached:
            return
        follower, fed = result
        self._follower = follower
        if not any(f.size for f in fed):
            return
        for lines, f in zip(self._live, fed, strict=True):
            lines.apply(f)
        for section in self._streams or ():
            name = "stderr" if section.stream is self._live[1] else "stdout"
            update_stream_section(section, name, total=follower.written[name == "stderr"],
                                  running=True)
        task = self.selected()
        if task is not None and task.id == key[0]:
            self._show(task, self._attempts.get(task.id, []), at="follow")
