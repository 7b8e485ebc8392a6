"""Actions: what runs on each file (command templates, built-ins, Python functions, plugins).

The engine and the clients only need the names exported here; see ARCHITECTURE.md ("actions/")
for the contract and each module's docstring for the reasons behind it.
"""

from __future__ import annotations

from .base import Action, ActionError, TaskContext, make_context
from .notes import append_note, dedupe_note, default_dedupe, one_output_per_input, plan_notes
from .output import (
    OutputError,
    atomic_path,
    atomic_write,
    check_output_path,
    display_path,
    mirror_path,
    temp_output_path,
)
from .python import PythonAction, action
from .registry import (
    ENTRY_POINT_GROUP,
    list_actions,
    plugin_errors,
    register,
    reload_plugins,
    resolve_action,
    run_in_process,
    unregister,
)
from .template import PLACEHOLDERS, CommandAction, PreparedCommand

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLACEHOLDERS",
    "Action",
    "ActionError",
    "CommandAction",
    "OutputError",
    "PreparedCommand",
    "PythonAction",
    "TaskContext",
    "action",
    "append_note",
    "atomic_path",
    "atomic_write",
    "check_output_path",
    "dedupe_note",
    "default_dedupe",
    "display_path",
    "list_actions",
    "make_context",
    "mirror_path",
    "one_output_per_input",
    "plan_notes",
    "plugin_errors",
    "register",
    "reload_plugins",
    "resolve_action",
    "run_in_process",
    "temp_output_path",
    "unregister",
]
