"""The multi-job scheduler of a Batch: call jobs and file jobs under one worker limit.

A Batch (:mod:`tui_batch.api`) runs any Python callable as a job beside its file jobs, on a
background event loop: priorities across all its jobs, dependencies (``after``: every one done;
``after_any``: every one ended), groups (sequential, parallel with a worker cap,
cancel-the-rest-on-failure), retries with exponential backoff, timeouts, results stored as JSON,
errors as type + message + traceback text, and everything stored so that
``resume_unfinished()`` picks it up after a crash. Modules, bottom-up: :mod:`.errors`
(``JobFailed`` and friends), :mod:`.calls` (running one attempt), :mod:`.entry` (a job in
memory and what it waits for), :mod:`.persist` (batched writes), :mod:`.core` (the state
machine), :mod:`.host` (its loop, submitting, closing), :mod:`.restore` (after a restart).

``scheduler`` may import errors, model, actions, select, store, engine and jobs; the API is
its client, and it never imports a client.
"""

from __future__ import annotations

from .core import PENDING, Scheduler
from .entry import Entry, GroupInfo
from .errors import ErrorInfo, JobFailed, QueueFull, ResultNotKept
from .host import NOT_RESUMABLE, Host
from .restore import resume_job, resume_unfinished

__all__ = [
    "NOT_RESUMABLE",
    "PENDING",
    "Entry",
    "ErrorInfo",
    "GroupInfo",
    "Host",
    "JobFailed",
    "QueueFull",
    "ResultNotKept",
    "Scheduler",
    "resume_job",
    "resume_unfinished",
]
