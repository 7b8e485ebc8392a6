"""The asyncio batch engine (no UI imports). See ARCHITECTURE.md, "Engine and runner API".

The public face: :class:`Engine` (:mod:`.core`), the :class:`Task` record (:mod:`.task`), the
events it reports (:mod:`.events`) and the executor interface (:mod:`.executors`). The engine
imports only ``errors``, ``model`` and ``actions``: never the store, the job system or a client.
"""

from .core import Engine
from .events import EngineEvent, Event, Stats, StatsEvent, TaskEvent
from .executors import Executor, Outcome, make_executor
from .gate import SharedLimit
from .task import Task

__all__ = [
    "Engine",
    "EngineEvent",
    "Event",
    "Executor",
    "Outcome",
    "SharedLimit",
    "Stats",
    "StatsEvent",
    "Task",
    "TaskEvent",
    "make_executor",
]
