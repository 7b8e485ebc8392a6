"""The words a job ends with: its stored states and the process exit codes of the brief.

One module of constants so that the runner, watch mode, the Python API and the CLI agree on
them without importing each other (and without importing the engine just to name a state).
"""

from __future__ import annotations

__all__ = [
    "CANCELLED",
    "CREATED",
    "DEPENDENCY_FAILED",
    "DONE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "FAILED",
    "FINAL_STATES",
    "INTERRUPTED",
    "PAUSED",
    "QUEUED",
    "RUNNING",
    "WAITING",
]

# Job states as stored.
CREATED, RUNNING, DONE, FAILED, INTERRUPTED, CANCELLED = (
    "created", "running", "done", "failed", "interrupted", "cancelled",
)

# States of a job in a Batch's scheduler (tui_batch.scheduler): queued (ready, waits for a
# worker), waiting (for the jobs it runs after, or its sequential group's turn; the reason
# names the job), paused (held by the user before it started), dependency failed (a job it
# needed failed or was cancelled: it never runs).
QUEUED, WAITING, PAUSED, DEPENDENCY_FAILED = "queued", "waiting", "paused", "dependency failed"
FINAL_STATES = frozenset({DONE, FAILED, CANCELLED, DEPENDENCY_FAILED})
"""States a job never leaves (interrupted ones can be resumed)."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
