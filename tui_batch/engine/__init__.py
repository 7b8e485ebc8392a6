"""The asyncio batch engine (no UI imports). See ARCHITECTURE.md, "Engine and runner API"."""

from .core import Engine, Task, make_executor
from .events import EngineEvent, Event, Stats, StatsEvent, TaskEvent
from .executors import Executor, Outcome

__all__ = [
    "Engine",
    "EngineEvent",
    "Event",
    "Executor",
    "Outcome",
    "Stats",
    "StatsEvent",
    "Task",
    "TaskEvent",
    "make_executor",
]
