"""The service's socket: `runtime_dir()/service.sock`, spoken with the jobs' protocol.

The same framing, size limit, hello and version check as every job's control socket
(:mod:`tui_batch.control.protocol`), the same peer check (``SO_PEERCRED``: another user gets
"permission denied" and nothing else) and the same rule that a bad frame is answered and the
connection closed while the service goes on. Only the ops differ: the service's are about
jobs as a whole (``submit`` of a stored job or, with ``kind: "watch"``, of a watch and
its settings; ``status``, ``stop``) and its limits (``workers``, the
``group_*`` ops); a job's own controls stay on the job's socket.

Unlike a job's ops, ``submit`` awaits (the job runner is built in a thread, so that "job 12
running in the background" is only said once it is), and each connection handles one request
at a time; nothing here reads the store on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..control.aio import linger, read_frame
from ..control.protocol import FrameError, check_hello, encode
from ..control.server import peer_uid_of
from ..errors import ControlError, InputError, StoreError
from ..watch.handoff import watcher_args
from .host import Service
from .registry import Entry

__all__ = ["ServiceServer"]

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 5.0
MAX_CLIENTS = 64
SLOW_LIMIT = 1 << 20

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ServiceServer:
    """Serves :class:`~.host.Service` on the Unix socket at ``path``."""

    def __init__(self, service: Service, path: Path) -> None:
        self.service = service
        self.path = path
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.StreamWriter, asyncio.Task[None] | None] = {}
        self._ops: dict[str, Handler] = {
            "status": self._op_status, "submit": self._op_submit, "stop": self._op_stop,
            "workers": self._op_workers, "groups": self._op_groups,
            "group_add": self._op_group_add, "group_set": self._op_group_set,
            "group_remove": self._op_group_remove,
        }

    async def start(self) -> None:
        """Listen (0600 before the first connection can come). The caller holds the service
        lock, so a socket file already there is a dead service's: it is replaced."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(self.path))
            os.chmod(self.path, 0o600)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock)
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot serve the service socket {self.path}: "
                               f"{exc.strerror}") from None

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        for writer in list(self._conns):
            writer.close()
        tasks = [t for t in self._conns.values() if t is not None]
        if tasks:  # let each connection end on its own, not cancelled by the loop's end
            await asyncio.wait(tasks, timeout=1.0)

    # ------------------------------------------------------------------ connections
    @staticmethod
    def _send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
        transport = writer.transport
        if transport.is_closing():
            return
        try:
            data = encode(obj)
        except FrameError as exc:
            data = encode({"id": obj.get("id"), "ok": False, "error": str(exc)})
        transport.write(data)
        if transport.get_write_buffer_size() > SLOW_LIMIT:
            transport.abort()  # a client that does not read never holds the service

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns[writer] = asyncio.current_task()
        try:
            await self._talk(reader, writer)
        except FrameError as exc:
            self._send(writer, {"ok": False, "error": str(exc)})
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError,
                asyncio.CancelledError):
            pass  # cancelled: the service is exiting; the client sees the connection close
        except Exception as exc:  # a bug here must never take the service down
            log.exception("service socket: connection failed")
            with contextlib.suppress(Exception):
                self._send(writer, {"ok": False, "error": f"internal error: {exc}"})
        finally:
            self._conns.pop(writer, None)
            writer.close()

    async def _talk(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        uid = peer_uid_of(writer)
        if uid is not None and uid != os.getuid():
            self._send(writer, {"ok": False, "error": "permission denied: this service "
                                                      "belongs to another user"})
            await linger(reader)
            return
        if len(self._conns) > MAX_CLIENTS:
            self._send(writer, {"ok": False,
                                "error": f"too many connections (at most {MAX_CLIENTS})"})
            return
        first = await asyncio.wait_for(read_frame(reader), HANDSHAKE_TIMEOUT)
        if first is None:
            return
        problem = check_hello(first)
        if problem is not None:
            self._send(writer, {"ok": False, "error": problem})
            return
        self._send(writer, {"ok": True, "version": first["version"], "service": True,
                            "pid": os.getpid(), "socket": os.fspath(self.path)})
        while True:
            request = await read_frame(reader)
            if request is None:
                return
            self._send(writer, await self._answer(request))

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        rid = request.get("id")
        op = request.get("op")
        try:
            if not isinstance(rid, int) or isinstance(rid, bool):
                raise ControlError("a request needs an integer \"id\"")
            handler = self._ops.get(op) if isinstance(op, str) else None
            if handler is None:
                raise ControlError(f"unknown op {op!r}")
            return {"id": rid, "ok": True, **await handler(request)}
        except InputError as exc:
            return {"id": rid, "ok": False, "error": exc.message, "field": exc.field}
        except (ControlError, StoreError) as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("service op %r failed", op)
            return {"id": rid, "ok": False, "error": f"{op} failed: {exc}"}

    # ------------------------------------------------------------------ ops
    async def _op_status(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "socket": os.fspath(self.path), **self.service.status()}

    async def _op_submit(self, req: dict[str, Any]) -> dict[str, Any]:
        db, job_id, group = req.get("db"), req.get("job_id"), req.get("group")
        if not isinstance(db, str) or not os.path.isabs(db):
            raise ControlError("\"db\" must be the absolute path of a job store")
        if not isinstance(job_id, int) or isinstance(job_id, bool) or job_id < 1:
            raise ControlError("\"job_id\" must be a job number")
        if group is not None and not isinstance(group, str):
            raise ControlError("\"group\" must be a group name or null")
        kind, watch = req.get("kind", "run"), req.get("watch")
        if kind not in ("run", "watch"):
            raise ControlError("\"kind\" must be \"run\" or \"watch\"")
        if kind == "watch":
            watcher_args(watch)  # its shape, before it goes into the registry
        else:
            watch = None
        return await self.service.submit(Entry(db=db, job_id=job_id, group=group, kind=kind,
                                               watch=watch))

    async def _op_stop(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"stopping": True, "jobs": self.service.begin_stop()}

    async def _op_workers(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"workers": self.service.set_workers(req.get("n"))}

    async def _op_groups(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"groups": self.service.group_rows()}

    async def _op_group_add(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"group": self.service.add_group(req.get("name"), req.get("workers"))}

    async def _op_group_set(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"group": self.service.add_group(req.get("name"), req.get("workers"),
                                                replace=True)}

    async def _op_group_remove(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"removed": self.service.remove_group(req.get("name"))}
