"""Plain data shared by every layer: the specs of a job, the file entries, the enums, the
numeric ranges of the settings (:mod:`.limits`).

``model`` sits at the bottom of the package: it imports only :mod:`tui_batch.errors` (and never
Textual), so the scanner, actions, engine, store and every client can share these types without
pulling each other in. Specs serialise to plain dicts (``to_dict``/``from_dict``) because a job
stores its full spec in SQLite and a recipe file stores it as TOML.
"""

from __future__ import annotations

from .entry import FileEntry
from .enums import ExecKind, Priority, TaskState
from .specs import ActionSpec, EngineSettings, FilterSpec, JobSpec

__all__ = [
    "ActionSpec",
    "EngineSettings",
    "ExecKind",
    "FileEntry",
    "FilterSpec",
    "JobSpec",
    "Priority",
    "TaskState",
]
