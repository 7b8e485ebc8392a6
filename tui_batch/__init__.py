"""tui-batch: batch-process files in parallel, from a terminal UI, headless, or from Python.

The names below are the Python API; see tui_batch.api for an example. Heavy modules are
imported on first use so that `import tui_batch` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InputError, StoreError, TuiBatchError

if TYPE_CHECKING:
    from .model import (
        ActionSpec,
        EngineSettings,
        FileEntry,
        FilterSpec,
        JobSpec,
        Priority,
        TaskState,
    )

__version__ = "0.1.0"

_LAZY = {
    # even the plain specs load on first use: `tui-batch pause 7` imports this package and
    # must answer in well under 100 ms
    **dict.fromkeys(("ActionSpec", "EngineSettings", "FileEntry", "FilterSpec", "JobSpec",
                     "Priority", "TaskState"), "model"),
    "Batch": "api",
    "Job": "api",
    "JobNotRunning": "api",
    "JobFailed": "api",
    "QueueFull": "api",
    "ResultNotKept": "api",
    "Group": "api",
    "Engine": "engine",
    "Task": "engine",
    "Stats": "engine",
    "TaskEvent": "engine",
    "StatsEvent": "engine",
    "EngineEvent": "engine",
    "Store": "store",
    "plan_job": "jobs",
    "create_job": "jobs",
    "JobRunner": "jobs",
    "scan": "select",
    "find_duplicates": "select",
    "action": "actions",
    "register": "actions",
}

__all__ = [
    "ActionSpec",
    "Batch",
    "Engine",
    "EngineEvent",
    "EngineSettings",
    "FileEntry",
    "FilterSpec",
    "Group",
    "InputError",
    "Job",
    "JobFailed",
    "JobNotRunning",
    "JobRunner",
    "JobSpec",
    "Priority",
    "QueueFull",
    "ResultNotKept",
    "Stats",
    "StatsEvent",
    "Store",
    "StoreError",
    "Task",
    "TaskEvent",
    "TaskState",
    "TuiBatchError",
    "action",
    "create_job",
    "find_duplicates",
    "plan_job",
    "register",
    "scan",
]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'tui_batch' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value
