"""Reaching a running job from any shell: its private control socket (issue 11).

A running job serves a Unix socket (:class:`ControlServer`, on the job's own loop) in a
private runtime folder (:func:`socket_path`); other processes reach it with :func:`connect`
and a :class:`ControlClient`: a snapshot, a coalesced event stream, and the controls (pause,
resume, cancel, workers, retry, priority, stop). The package knows the engine and nothing
above it, so the job runner, watch mode, the service and the CLI can all use it.

The client side is imported at once and the serving side on first use (PEP 562): a control
command from the shell (``tui-batch pause 7``) needs only the client, and must answer fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import ControlError
from .client import ControlClient, connect
from .paths import runtime_dir, socket_path
from .protocol import MAX_FRAME, VERSION, FrameError

if TYPE_CHECKING:
    from .serve import serve_engine
    from .server import ControlServer
    from .target import ControlTarget, EngineTarget, task_row

_LAZY = {
    "ControlServer": "server",
    "ControlTarget": "target",
    "EngineTarget": "target",
    "task_row": "target",
    "serve_engine": "serve",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "MAX_FRAME",
    "VERSION",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "ControlTarget",
    "EngineTarget",
    "FrameError",
    "connect",
    "runtime_dir",
    "serve_engine",
    "socket_path",
    "task_row",
]
