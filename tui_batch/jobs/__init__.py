"""The job system: the glue between selecting files, the job store and the engine.

Every client goes through here: the headless CLI, the TUI, watch mode and the Python API. A
job is planned (:mod:`.plan`: scan + dedupe + preview, no side effects), created (spec and
tasks written to the store in one transaction), then run by a :class:`JobRunner`
(:mod:`.runner`), which mirrors the engine's events into the store so that a crash at any
moment leaves a job that ``resume`` can finish. :mod:`.states` names the stored job states and
the exit codes, :mod:`.recipe` reads and writes job specs as TOML files, :mod:`.hints` builds
the commands printed for the user to type later ("resume with: ...").

``jobs`` may import ``errors``, ``model``, ``actions``, ``select``, ``store`` and ``engine``;
watch mode and the clients build on it. Import from here, not from the submodules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .hints import (
    default_store_path,
    forget_jobs_on_exit,
    resume_advice,
    resume_command,
    resume_hint,
)
from .states import (
    CANCELLED,
    CREATED,
    DONE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    FAILED,
    INTERRUPTED,
    RUNNING,
)

if TYPE_CHECKING:
    from ..store import job_liveness, lock_job, unlock_job
    from .pipeline import Pipeline, counts_text
    from .pipeline_setup import final_output
    from .plan import Plan, create_job, plan_job, resolve_checked_action, scan_filter
    from .progress import CREATING, HASHING, SCANNING, Progress, ProgressFn, progress_text
    from .recipe import (
        TABLES,
        Recipe,
        dump_recipe,
        load_recipe,
        load_recipe_dict,
        read_recipe,
        save_recipe,
    )
    from .runner import JobRunner, mirror_event, run_spec

_LAZY = {
    **dict.fromkeys(("job_liveness", "lock_job", "unlock_job"), "..store"),
    **dict.fromkeys(("Plan", "create_job", "plan_job", "resolve_checked_action",
                     "scan_filter"), ".plan"),
    **dict.fromkeys(("CREATING", "HASHING", "SCANNING", "Progress", "ProgressFn",
                     "progress_text"), ".progress"),
    **dict.fromkeys(("JobRunner", "mirror_event", "run_spec"), ".runner"),
    **dict.fromkeys(("Pipeline", "counts_text"), ".pipeline"),
    "final_output": ".pipeline_setup",
    **dict.fromkeys(("TABLES", "Recipe", "dump_recipe", "load_recipe", "load_recipe_dict",
                     "read_recipe", "save_recipe"), ".recipe"),
}
"""What loads on first use: a control command (``tui-batch pause 7``) needs the states and
the hints only, and must answer in well under 100 ms; planning, running and the store's
machinery load when a command uses them."""

__all__ = [
    "CANCELLED",
    "CREATED",
    "CREATING",
    "DONE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "FAILED",
    "HASHING",
    "INTERRUPTED",
    "RUNNING",
    "SCANNING",
    "TABLES",
    "JobRunner",
    "Pipeline",
    "Plan",
    "Progress",
    "ProgressFn",
    "Recipe",
    "counts_text",
    "create_job",
    "default_store_path",
    "dump_recipe",
    "final_output",
    "forget_jobs_on_exit",
    "job_liveness",
    "load_recipe",
    "load_recipe_dict",
    "lock_job",
    "mirror_event",
    "plan_job",
    "progress_text",
    "read_recipe",
    "resolve_checked_action",
    "resume_advice",
    "resume_command",
    "resume_hint",
    "run_spec",
    "save_recipe",
    "scan_filter",
    "unlock_job",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
