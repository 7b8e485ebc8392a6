"""Actions: what runs on each file (command templates, built-ins, Python functions, plugins).

The engine and the clients only need the names exported here; see ARCHITECTURE.md ("actions/")
for the contract and each module's docstring for the reasons behind it. Actions sit just above
the plain data: they may import ``errors`` and ``model`` and nothing else of the package, so the
engine, the selection and every client can use them without pulling anything else in.

``base`` (the Action contract and the per-task context), ``output`` (where outputs go, written
atomically) and ``leftovers`` (temporary outputs a killed run left behind), ``template/``
(``--exec`` command templates), ``python`` (functions and ``@action``), ``builtins``,
``registry`` (names -> actions, plugins, the process-pool trampoline), ``notes`` (the defaults
an action implies, in one wording for every client).
"""

from __future__ import annotations

from .base import Action, ActionError, TaskContext, TaskSkipped, make_context
from .jobhooks import JobInfo, JobReport, JobTask
from .leftovers import remove_leftovers
from .notes import append_note, dedupe_note, default_dedupe, one_output_per_input, plan_notes
from .output import (
    TEMP_MARKER,
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
    "TEMP_MARKER",
    "Action",
    "ActionError",
    "CommandAction",
    "JobInfo",
    "JobReport",
    "JobTask",
    "OutputError",
    "PreparedCommand",
    "PythonAction",
    "TaskContext",
    "TaskSkipped",
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
    "remove_leftovers",
    "resolve_action",
    "run_in_process",
    "temp_output_path",
    "unregister",
]
