"""The control socket a running job serves, so other shells can watch and steer it.

:class:`ControlServer` listens on a Unix socket (never TCP) on the job's own event loop and
answers each request with one call on its :class:`~.target.ControlTarget`: no store reads,
no thread hops, so an answer takes well under a millisecond plus the round trip.

It is written to never hurt the job it serves:

- the socket is made 0600 before it listens, in a 0700 folder (:mod:`.paths`), and each peer's
  uid is checked with ``SO_PEERCRED``: another user gets "permission denied" and nothing else;
- a frame that breaks the protocol (too long, not JSON, not an object) gets an error answer
  and the connection is closed; an exception in a handler is answered, never raised into the
  loop;
- nothing ever waits for a client: event frames are queued without ``drain`` and a client
  whose unread output passes ``slow_limit`` is dropped (:mod:`.stream`).

A socket file left by a dead process (nobody accepts on it) is replaced; a live one means the
job is already served elsewhere, and :meth:`ControlServer.start` refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine import EngineEvent, Event, StatsEvent, TaskEvent
from ..errors import ControlError, InputError
from ..model import Priority
from .aio import linger, read_frame
from .protocol import FrameError, check_hello, encode, peer_uid
from .stream import Subscription
from .target import ControlTarget, stats_dict

log = logging.getLogger(__name__)

__all__ = ["ControlServer", "ControlTarget"]

SLOW_LIMIT = 1 << 20
"""Bytes of unread output after which a client is dropped as too slow."""
INTERVAL = 0.1
"""Seconds between two flushes of a subscriber's events (at most 10 a second)."""
HANDSHAKE_TIMEOUT = 5.0
"""A connection that says nothing this long is closed (it holds a slot for nothing)."""
MAX_CLIENTS = 64
DEFAULT_TASK_LIMIT = 1000
CLOSE_GRACE = 1.0
"""Seconds the end of a job waits for clients to receive their last frames."""


class _Conn:
    """One accepted connection."""

    __slots__ = ("limit", "sub", "writer")

    def __init__(self, writer: asyncio.StreamWriter, limit: int) -> None:
        self.writer = writer
        self.limit = limit
        self.sub: Subscription | None = None

    def send(self, obj: dict[str, Any]) -> None:
        """Queue one answer; never waits (a client that does not read is dropped). An answer
        over the frame limit becomes an error answer saying so."""
        transport = self.writer.transport
        if transport.is_closing():
            return
        try:
            data = encode(obj)
        except FrameError as exc:
            data = encode({"id": obj.get("id"), "ok": False,
                           "error": f"{exc}; ask for less (a smaller limit)"})
        transport.write(data)
        if transport.get_write_buffer_size() > self.limit:
            transport.abort()


def peer_uid_of(writer: asyncio.StreamWriter) -> int | None:
    """The uid of the client at the other end of an asyncio stream (None: unknown)."""
    sock = writer.get_extra_info("socket")
    return None if sock is None else peer_uid(sock)


def _accepts(path: Path) -> bool:
    """Whether a server accepts on the socket at ``path`` (False: a dead process's file)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # a live server with a full backlog must not block us
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except BlockingIOError:
        return True
    except OSError as exc:
        raise ControlError(f"control socket {path}: {exc.strerror}") from None
    finally:
        probe.close()
    return True


class ControlServer:
    """Serves one job's control socket at ``path`` while the job runs."""

    def __init__(self, target: ControlTarget, path: Path | str, *,
                 slow_limit: int = SLOW_LIMIT, interval: float = INTERVAL) -> None:
        self.target = target
        self.path = Path(path)
        self.slow_limit = slow_limit
        self.interval = interval
        self.dropped = 0
        """Clients dropped because they stopped reading."""
        self._server: asyncio.Server | None = None
        self._inode: tuple[int, int] | None = None
        self._conns: dict[_Conn, asyncio.Task[None] | None] = {}
        self._subs: list[Subscription] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False
        self._last_task: TaskEvent | None = None
        self.served: dict[str, int] = {}
        """Requests answered, by op (what a viewer costs the job: tests, the benchmark)."""
        self._ops: dict[str, Callable[[_Conn, dict[str, Any]], dict[str, Any]]] = {
            "snapshot": self._op_snapshot, "subscribe": self._op_subscribe,
            "pause": self._op_pause, "resume": self._op_resume, "cancel": self._op_cancel,
            "workers": self._op_workers, "retry": self._op_retry,
            "priority": self._op_priority, "stop": self._op_stop, "tasks": self._op_tasks,
        }

    @property
    def clients(self) -> int:
        """Connections open now."""
        return len(self._conns)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    # ------------------------------------------------------------------ life cycle
    def _clear_stale(self) -> None:
        """Remove a socket file nobody accepts on; refuse when a live server owns it."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ControlError(f"control socket {self.path}: {exc.strerror}") from None
        if stat.S_ISSOCK(st.st_mode) and _accepts(self.path):
            raise ControlError(
                f"job {self.target.job_id} is already served by another process "
                f"(control socket {self.path})"
            )
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def start(self) -> None:
        """Listen on the socket (on the running loop). Raises ControlError when it cannot."""
        self._clear_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(self.path))
            os.chmod(self.path, 0o600)  # bound but not listening: nobody can connect yet
            st = os.stat(self.path)
            self._inode = (st.st_dev, st.st_ino)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock)
        except OSError as exc:
            sock.close()
            self._unlink()
            raise ControlError(f"cannot serve control socket {self.path}: {exc.strerror}") \
                from None
        self._unsubscribe = self.target.subscribe(self._on_event)

    def _unlink(self) -> None:
        """Remove our socket file (not one a later server put at the same path)."""
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:
                os.unlink(self.path)
        except OSError:
            pass

    async def close(self, state: str | None = None, code: int | None = None) -> None:
        """Stop serving. With ``state``, every subscriber first gets its pending events and
        an ``end`` frame (``state``, ``code``). Waits at most CLOSE_GRACE for the clients to
        take their last frames."""
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._server is not None:
            self._server.close()
        self._unlink()
        for sub in list(self._subs):
            sub.flush()
            if state is not None:
                sub.write(encode({"ev": "end", "state": state, "code": code}))
            sub.cancel()
        self._subs.clear()
        for conn in list(self._conns):
            conn.writer.close()  # sends what is buffered, then closes
        tasks = [t for t in self._conns.values() if t is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=CLOSE_GRACE)
            for conn in list(self._conns):
                conn.writer.transport.abort()
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=0.1)

    # ------------------------------------------------------------------ events
    def _on_event(self, ev: Event) -> None:
        """On the engine's path: only remember; :class:`Subscription` sends later."""
        if type(ev) is TaskEvent:
            self._last_task = ev  # a new viewer's probe: its store read must show this
        subs = self._subs
        if not subs:
            return
        if isinstance(ev, TaskEvent):
            for sub in subs:
                sub.tasks[ev.task_id] = ev
                sub.changed()
        elif isinstance(ev, StatsEvent):
            stats = stats_dict(ev.stats)
            for sub in subs:
                sub.stats = stats
                sub.changed()
        elif isinstance(ev, EngineEvent) and ev.kind != "priority":  # one per task: rows tell
            for sub in subs:
                sub.logs.append(ev)
                sub.changed()

    def _drop_slow(self, sub: Subscription) -> None:
        self.dropped += 1
        sub.cancel()
        if sub in self._subs:
            self._subs.remove(sub)
        for conn in self._conns:
            if conn.sub is sub:
                log.info("control socket of job %s: a client stopped reading; dropped",
                         self.target.job_id)
                conn.writer.transport.abort()

    # ------------------------------------------------------------------ connections
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer, self.slow_limit)
        self._conns[conn] = asyncio.current_task()
        try:
            await self._talk(conn, reader)
        except FrameError as exc:
            conn.send({"ok": False, "error": str(exc)})
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:  # a bug here must not reach the job's loop
            log.exception("control socket of job %s: connection failed", self.target.job_id)
            with contextlib.suppress(Exception):
                conn.send({"ok": False, "error": f"internal error: {exc}"})
        finally:
            if conn.sub is not None:
                conn.sub.cancel()
                if conn.sub in self._subs:
                    self._subs.remove(conn.sub)
            self._conns.pop(conn, None)
            writer.close()

    async def _talk(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        uid = peer_uid_of(conn.writer)
        if uid is not None and uid != os.getuid():
            conn.send({"ok": False, "error": "permission denied: this job belongs to another "
                                             "user"})
            await linger(reader)
            return
        if len(self._conns) > MAX_CLIENTS:
            conn.send({"ok": False, "error": f"too many connections (at most {MAX_CLIENTS})"})
            return
        first = await asyncio.wait_for(read_frame(reader), HANDSHAKE_TIMEOUT)
        if first is None:
            return
        problem = check_hello(first)
        if problem is not None:
            conn.send({"ok": False, "error": problem})
            return
        target = self.target
        conn.send({"ok": True, "version": first["version"], "job_id": target.job_id,
                   "pid": os.getpid(), "db": target.db})
        while not self._closed:
            request = await read_frame(reader)
            if request is None:
                return
            conn.send(self._answer(conn, request))

    def _answer(self, conn: _Conn, request: dict[str, Any]) -> dict[str, Any]:
        rid = request.get("id")
        op = request.get("op")
        try:
            if not isinstance(rid, int) or isinstance(rid, bool):
                raise ControlError("a request needs an integer \"id\"")
            handler = self._ops.get(op) if isinstance(op, str) else None
            if handler is None:
                raise ControlError(f"unknown op {op!r}")
            self.served[str(op)] = self.served.get(str(op), 0) + 1
            return {"id": rid, "ok": True, **handler(conn, request)}
        except (ControlError, InputError) as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("control op %r of job %s failed", op, self.target.job_id)
            return {"id": rid, "ok": False, "error": f"{op} failed: {exc}"}

    # ------------------------------------------------------------------ ops
    def _op_snapshot(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        return self.target.snapshot()

    def _op_subscribe(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        """The event stream. ``rows="compact"`` (a viewer that reads the task list from the
        store): compact rows, the job's new tasks under ``new``, and in the answer what the
        store read needs: ``newest`` (the last task it must find there; later ones come on
        the stream) and ``probe`` (the last task change before this answer: once the store
        shows it, it shows everything before it, the store committing in order)."""
        rows = req.get("rows")
        if rows not in (None, "compact"):
            raise ControlError("\"rows\" must be \"compact\" or left out")
        target = self.target
        newest = target.newest_id() if rows else 0
        if conn.sub is None:
            sub = Subscription(conn.writer.transport, interval=self.interval,
                               slow_limit=self.slow_limit, on_slow=self._drop_slow,
                               stats_now=lambda: self.target.snapshot()["stats"],
                               new_after=target.tasks_after if rows else None, newest=newest)
            conn.sub = sub
            self._subs.append(sub)
            sub.stats = target.snapshot()["stats"]  # a first frame at once
            sub.changed()
        if not rows:
            return {"subscribed": True}
        last = self._last_task
        probe = None if last is None else [last.task_id, last.state.value, last.attempt]
        return {"subscribed": True, "newest": newest, "probe": probe}

    def _op_pause(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        self.target.pause()
        return {"paused": True}

    def _op_resume(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        self.target.resume()
        return {"paused": False}

    def _op_cancel(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        tasks = req.get("tasks")
        if tasks is not None and not (
            isinstance(tasks, list)
            and all(isinstance(t, int) and not isinstance(t, bool) for t in tasks)
        ):
            raise ControlError("\"tasks\" must be a list of task ids, or null for all")
        return {"cancelled": self.target.cancel(tasks)}

    def _op_workers(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        n = req.get("n")
        if not isinstance(n, int) or isinstance(n, bool):
            raise ControlError("\"n\" must be a whole number of workers")
        return {"workers": self.target.set_workers(n)}

    def _op_retry(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        return {"retried": self.target.retry_failed()}

    def _op_priority(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        value = req.get("priority")
        if not isinstance(value, str):
            raise ControlError("\"priority\" must be one of low, normal, high, urgent")
        priority = Priority.parse(value, "priority")
        tasks = req.get("tasks")  # only these tasks (the dashboard's per-task priority)
        if tasks is not None and not (
            isinstance(tasks, list)
            and all(isinstance(t, int) and not isinstance(t, bool) for t in tasks)
        ):
            raise ControlError("\"tasks\" must be a list of task ids, or null for all")
        return {"priority": priority.name.lower(),
                "tasks": self.target.set_priority(priority, tasks)}

    def _op_stop(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        self.target.stop()
        return {"stopping": True}

    def _op_tasks(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        state, limit = req.get("state"), req.get("limit", DEFAULT_TASK_LIMIT)
        offset = req.get("offset", 0)
        if state is not None and not isinstance(state, str):
            raise ControlError("\"state\" must be a task state or null")
        for name, value in (("limit", limit), ("offset", offset)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ControlError(f"\"{name}\" must be a whole number, 0 or more")
        rows = self.target.tasks(state, limit, offset)
        return {"tasks": rows}
