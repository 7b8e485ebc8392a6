"""A job running in another process, seen as an engine: what `tui-batch attach` shows.

The dashboard is written against an :class:`~tui_batch.engine.Engine` (its live ``tasks``,
``snapshot()``, ``subscribe()`` and controls). :class:`RemoteJob` offers the same surface for
a job whose engine runs elsewhere, over that job's control socket, so the one dashboard
shows either with next to no branching: the socket's coalesced event stream becomes engine
events again (``TaskEvent``, ``StatsEvent``, ``EngineEvent``), the tasks become ``Task``
objects updated in place (the task list paints them as it paints an engine's), and each
control becomes one request, sent without waiting (a refusal comes back as a ``warning``).
:class:`~.remote_runner.RemoteRunner` is the matching stand-in for a job runner.

What costs the job nothing is not sent: the task list is read from the job's store (same
user, read-only, in a thread: :mod:`.remote_store`), first a screenful before the first
frame, the rest after it; the socket carries only the coalesced changes since the viewer
subscribed (compact rows), the tasks added since (a watch's arrivals), and the statistics.
:mod:`.remote_tasks` merges the two, whatever order they come in.

Asyncio on purpose, on the viewer's own loop (the blocking :mod:`.client` is for one-shot
CLI commands): a viewer keeps one connection for the stream and its requests, so the order
of frames on it is the order of what happened in the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..engine import EngineEvent, Event, Stats, StatsEvent, Task, TaskEvent
from ..errors import ControlError, StoreError
from ..model import EngineSettings, Priority, TaskState
from .aio import read_frame
from .protocol import encode
from .remote_conn import open_job
from .remote_rows import stats_from_dict
from .remote_store import read_tasks
from .remote_tasks import TaskBook

__all__ = ["RemoteJob"]

FIRST_PAGE = 400
"""Task rows read from the store before the first frame (more than a tall terminal shows)."""
ROWS_EVERY = 0.5
"""Seconds between two ``EngineEvent("rows")`` for tasks added to the job (a list rebuilt)."""
TIMEOUT = 2.0
"""Seconds the job has to accept us and answer each request of the attach."""


class RemoteJob:
    """The engine of job ``job_id`` of the store at ``db_path``, running in another process,
    as an engine-like object: call :meth:`open` on the loop the viewer runs on."""

    def __init__(self, db_path: str, job_id: int, *, settings: EngineSettings | None = None
                 ) -> None:
        self.db_path = db_path
        self.job_id = job_id
        self.settings = settings or EngineSettings()
        """The job's stored settings (retries, output cap, kill grace), for what a viewer
        says; the job's own may have changed since (workers)."""
        self.book = TaskBook()
        self.tasks: dict[int, Task] = self.book.tasks
        """The job's tasks as last heard, in the job's order (read-only for clients)."""
        self.info: dict[str, Any] = {}
        """The job's handshake: version, job_id, pid, db."""
        self.name: str | None = None
        self.watch: dict[str, Any] | None = None
        """A watch's header fields (mode, settling, idle since...) as last heard."""
        self.sent: dict[str, int] = {}
        """Requests sent, by op (what this viewer asked of the job)."""
        self.ended = False
        """The job said it ended (:attr:`end_state`, :attr:`end_code`)."""
        self.end_state: str | None = None
        self.end_code: int | None = None
        self.lost = False
        """The connection broke without an end: the job's process died, or dropped us."""
        self._stats = Stats()
        self._paused = False
        self._workers = 0
        self._callbacks: list[Callable[[Event], None]] = []
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._reader_task: asyncio.Task[None] | None = None
        self._pages: asyncio.Task[None] | None = None
        self._rows_handle: asyncio.TimerHandle | None = None
        self._rows_last = -ROWS_EVERY
        self._closed: asyncio.Event | None = None
        self._closing = False

    # ------------------------------------------------------------ engine surface
    @property
    def pid(self) -> int | None:
        """The process that runs the job."""
        pid = self.info.get("pid")
        return int(pid) if isinstance(pid, int) else None

    @property
    def complete(self) -> bool:
        """The whole task list has been read (until then :attr:`tasks` holds a screenful)."""
        return self.book.complete

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def connected(self) -> bool:
        """The stream is live (opened, neither ended nor lost nor closed)."""
        return self._writer is not None and not (self.ended or self.lost or self._closing)

    def snapshot(self) -> Stats:
        """The job's counters as last heard; paused and workers as this viewer knows them
        (its own controls count at once, a stats frame may predate them)."""
        return replace(self._stats, paused=self._paused, workers=self._workers)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Hear the job's events as an engine's subscriber does. Returns unsubscribe."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def live_output(self, task_id: int) -> tuple[str, str]:
        """No tails travel on the socket: a viewer reads output from the job's log files."""
        task = self.tasks.get(task_id)
        return ("", "") if task is None else (task.stdout_tail, task.stderr_tail)

    # ------------------------------------------------------------------ controls
    def pause(self) -> None:
        self._paused = True
        self._fire("pause")

    def resume(self) -> None:
        self._paused = False
        self._fire("resume")

    def cancel(self, task_id: int) -> bool:
        task = self.tasks.get(task_id)
        if task is not None and task.state.terminal:
            return False
        self._fire("cancel", tasks=[task_id])
        return True

    def cancel_all(self) -> None:
        self._fire("cancel", tasks=None)

    def set_workers(self, n: int) -> None:
        self._workers = max(1, int(n))
        self._fire("workers", self._heard_workers, n=self._workers)

    def retry_failed(self) -> int:
        """Ask the job to queue its failed and cancelled tasks again; returns how many this
        viewer knows of (the job's answer is the real figure)."""
        self._fire("retry")
        return sum(1 for t in self.tasks.values()
                   if t.state in (TaskState.FAILED, TaskState.CANCELLED))

    def set_priority(self, task_id: int, priority: Priority) -> bool:
        task = self.tasks.get(task_id)
        if task is not None:
            task.priority = Priority(priority)
        self._fire("priority", priority=Priority(priority).name.lower(), tasks=[task_id])
        return True

    def stop(self) -> None:
        """Stop the job itself (resumable), as Ctrl-C in its own terminal would."""
        self._fire("stop")

    def ask_watch(self) -> None:
        """Ask the job's snapshot again, for :attr:`watch` (not a task: a few fields)."""
        if self.connected:
            self._fire("snapshot", self._heard_snapshot)

    def _heard_snapshot(self, answer: dict[str, Any]) -> None:
        watch = answer.get("watch")
        self.watch = watch if isinstance(watch, dict) else self.watch

    def _heard_workers(self, answer: dict[str, Any]) -> None:
        if isinstance(answer.get("workers"), int):
            self._workers = answer["workers"]

    # ---------------------------------------------------------------- connecting
    async def open(self, timeout: float = TIMEOUT) -> bool:
        """Connect, subscribe and read the first tasks from the store. False when the job is
        not served (it is not running, or it ended meanwhile); ControlError when it refuses
        us, does not answer in time, or its store cannot be read. The rest of the tasks is
        read in the background (:attr:`complete`; an ``EngineEvent("rows")`` says when)."""
        opened = await open_job(self.db_path, self.job_id, timeout)
        if opened is None:
            return False
        reader, writer, answer = opened
        self.info, self._writer = answer, writer
        self._closed = asyncio.Event()
        self._reader_task = asyncio.create_task(self._read_loop(reader))
        try:
            snap = await self._ask("snapshot", timeout)
            self._stats = stats_from_dict(snap.get("stats") or {})
            self._paused, self._workers = bool(snap.get("paused")), int(snap.get("workers") or 0)
            self.name = snap.get("name")
            self._heard_snapshot(snap)
            sub = await self._ask("subscribe", timeout, rows="compact")
        except ControlError:
            if self.ended or self.lost:
                return False  # it ended between the hello and the subscription
            raise
        probe = sub.get("probe")
        try:  # changes from now on are on the stream; the store has every one before
            rows = await asyncio.to_thread(read_tasks, self.db_path, self.job_id,
                                           probe if isinstance(probe, list) else None,
                                           FIRST_PAGE)
        except StoreError as exc:
            self.detach()
            raise ControlError(f"cannot read the tasks of job {self.job_id} from its store: "
                               f"{exc}") from None
        self.book.add_records(rows)
        if len(rows) < FIRST_PAGE:
            self.book.completed()
        else:
            self._pages = asyncio.create_task(self._read_rest())
        return True

    async def _read_rest(self) -> None:
        """The whole task list from the store, after the first screenful (no wait for the
        store: the first read did)."""
        try:
            rows = await asyncio.to_thread(read_tasks, self.db_path, self.job_id, None)
        except StoreError as exc:
            rows = []
            self._emit(EngineEvent("warning", f"cannot read the job's tasks: {exc}"))
        self.book.add_records(rows)
        self.book.completed()
        self._emit(EngineEvent("rows", f"{len(self.tasks):,} tasks"))

    def _rows_due(self) -> None:
        """Tasks were added: say so with an ``EngineEvent("rows")`` (the dashboard lists
        them), at once or, in a burst, at most once per ROWS_EVERY."""
        if self._rows_handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._rows_last + ROWS_EVERY - loop.time())
        self._rows_handle = loop.call_later(delay, self._rows_now)

    def _rows_now(self) -> None:
        self._rows_handle = None
        self._rows_last = asyncio.get_running_loop().time()
        if not self._closing:
            self._emit(EngineEvent("rows", f"{len(self.tasks):,} tasks"))

    async def wait_ended(self) -> None:
        """Return when the job has ended, the connection broke or :meth:`aclose` was called."""
        if self._closed is not None:
            await self._closed.wait()

    def detach(self) -> None:
        """Stop hearing the job at once (from any code on the loop): the job goes on."""
        self._closing = True
        self._close()

    async def aclose(self) -> None:
        """Close the connection (detach) and wait for the reading to stop: the job goes on."""
        self._closing = True
        for task in (self._pages, self._reader_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._close()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._rows_handle is not None:
            self._rows_handle.cancel()
            self._rows_handle = None
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ControlError(f"job {self.job_id}: connection closed"))
        self._waiting.clear()
        if self._closed is not None:
            self._closed.set()

    # ------------------------------------------------------------------ requests
    def _send(self, op: str, **args: Any) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        writer = self._writer
        if writer is None or not self.connected or writer.transport.is_closing():
            word = "has ended" if self.ended else "is not connected"
            fut.set_exception(ControlError(f"job {self.job_id} {word}"))
            return fut
        self._next_id += 1
        self._waiting[self._next_id] = fut
        self.sent[op] = self.sent.get(op, 0) + 1
        writer.write(encode({"id": self._next_id, "op": op, **args}))
        return fut

    async def _ask(self, op: str, timeout: float, **args: Any) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self._send(op, **args), timeout)
        except TimeoutError:
            raise ControlError(f"job {self.job_id} did not answer {op!r} within "
                               f"{timeout:g} s") from None

    def _fire(self, op: str, on_answer: Callable[[dict[str, Any]], None] | None = None,
              **args: Any) -> None:
        """Send a control without waiting; its refusal becomes a ``warning`` event."""
        def answered(fut: asyncio.Future[dict[str, Any]]) -> None:
            if fut.cancelled():
                return
            exc = fut.exception()
            if exc is not None:
                if not self._closing:
                    self._emit(EngineEvent("warning", f"{op}: {exc}"))
            elif on_answer is not None:
                on_answer(fut.result())

        self._send(op, **args).add_done_callback(answered)

    # -------------------------------------------------------------------- stream
    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while not self.ended:
                frame = await read_frame(reader)
                if frame is None:
                    break
                self._dispatch(frame)
        except (ControlError, ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            if not self.ended and not self._closing:
                self.lost = True
            self._close()

    def _dispatch(self, frame: dict[str, Any]) -> None:
        rid = frame.get("id")
        if rid is not None and "ev" not in frame:
            fut = self._waiting.pop(rid, None)
            if fut is not None and not fut.done():
                if frame.get("ok"):
                    fut.set_result(frame)
                else:
                    fut.set_exception(ControlError(str(frame.get("error") or "refused")))
            return
        kind = frame.get("ev")
        if kind == "tasks":
            new = frame.get("new")
            if isinstance(new, list) and new:
                self._heard_new(new)
            rows = frame.get("tasks")
            if isinstance(rows, list) and rows:
                self._heard_tasks(rows)
        elif kind == "stats":
            self._stats = stats_from_dict(frame.get("stats") or {})
            self._emit(StatsEvent(self.snapshot()))
        elif kind == "log":
            self._heard_log(str(frame.get("kind") or ""), str(frame.get("message") or ""))
        elif kind == "end":
            self.ended = True
            self.end_state = frame.get("state")
            code = frame.get("code")
            self.end_code = code if isinstance(code, int) else None
        elif frame.get("ok") is False:
            raise ControlError(str(frame.get("error")))

    def _heard_new(self, rows: list[Any]) -> None:
        if self.book.heard_new(rows):
            self._rows_due()

    def _heard_tasks(self, rows: list[Any]) -> None:
        changes = self.book.heard_changes(rows)
        if self._callbacks:
            now = time.time()
            for c in changes:
                self._emit(TaskEvent(c.task_id, c.state, c.attempt, now, c.exit_code,
                                     c.signal, c.error, c.reason, c.duration))

    def _heard_log(self, kind: str, message: str) -> None:
        if kind == "paused":
            self._paused = True
        elif kind == "resumed":
            self._paused = False
        elif kind == "workers":
            head = message.split(" ", 1)[0]
            if head.isdigit():
                self._workers = int(head)
        self._emit(EngineEvent(kind, message))

    def _emit(self, event: Event) -> None:
        for cb in list(self._callbacks):
            cb(event)
