"""Plain data shared by every layer: the specs of a job, the file entries, the enums, the
numeric ranges of the settings (:mod:`.limits`).

``model`` sits at the bottom of the package: it imports only :mod:`tui_batch.errors` (and never
Textual), so the scanner, actions, engine, store and every client can share these types without
pulling each other in. Specs serialise to plain dicts (``to_dict``/``from_dict``) because a job
stores its full spec in SQLite and a recipe file stores it as TOML.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .entry import FileEntry
    from .enums import ExecKind, Priority, TaskState
    from .specs import ActionSpec, EngineSettings, FilterSpec, JobSpec
    from .steps import StepSpec

_LAZY = {
    "FileEntry": ".entry",
    **dict.fromkeys(("ExecKind", "Priority", "TaskState"), ".enums"),
    **dict.fromkeys(("ActionSpec", "EngineSettings", "FilterSpec", "JobSpec"), ".specs"),
    "StepSpec": ".steps",
}
"""Loaded on first use: a module of this package that needs nothing else (the store's path
rule, :mod:`.dbpath`, used by the commands that must answer in well under 100 ms) must not
pay for building every spec class."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ActionSpec",
    "EngineSettings",
    "ExecKind",
    "FileEntry",
    "FilterSpec",
    "JobSpec",
    "Priority",
    "StepSpec",
    "TaskState",
]
