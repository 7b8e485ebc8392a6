"""Serving one engine's job on its control socket, for every kind of job that runs one.

Why a module of its own: a foreground run (:class:`~tui_batch.jobs.JobRunner`), watch mode
and the service all start a job's socket the same way and treat a failure the same way: a job
whose socket cannot be made (a runtime folder another user owns, a path too long) still runs,
and the user is told once, as a warning, that other shells cannot reach it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..engine import Engine, EngineEvent
from ..errors import ControlError
from .paths import socket_path
from .server import ControlServer
from .target import EngineTarget

__all__ = ["serve_engine"]

log = logging.getLogger(__name__)


async def serve_engine(
    engine: Engine, db_path: str, job_id: int, name: str | None,
    stop: Callable[[], None] | None, *, extra: Callable[[], dict[str, Any]] | None = None,
) -> ControlServer | None:
    """Start job ``job_id``'s control socket on the running loop, or ``None`` (warned) when it
    cannot be served. ``stop`` is what the ``stop`` op does (stop resumably); ``extra`` gives
    what a ``snapshot`` answer carries besides the engine's (a watch's header fields)."""
    target = EngineTarget(engine, job_id, db_path, name, stop=stop, extra=extra)
    try:
        server = ControlServer(target, socket_path(db_path, job_id))
        await server.start()
    except (ControlError, OSError) as exc:
        message = f"job {job_id} cannot be controlled from other shells: {exc}"
        log.warning("tui-batch: warning: %s", message)
        # the engine's subscribers (the TUI's log, --json) get it as the engine's warnings
        engine._subs.emit(EngineEvent("warning", message, {"reason": "control"}))
        return None
    return server
