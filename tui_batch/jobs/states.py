"""The words a job ends with: its stored states and the process exit codes of the brief.

One module of constants so that the runner, watch mode, the Python API and the CLI agree on
them without importing each other (and without importing the engine just to name a state).
"""

from __future__ import annotations

__all__ = [
    "CANCELLED", "CREATED", "DONE", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE",
    "FAILED", "INTERRUPTED", "RUNNING",
]

# Job states as stored.
CREATED, RUNNING, DONE, FAILED, INTERRUPTED, CANCELLED = (
    "created", "running", "done", "failed", "interrupted", "cancelled",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
