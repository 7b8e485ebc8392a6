"""The Python API: the same jobs the CLI and TUI run, from a script.

    from tui_batch import Batch, JobSpec, FilterSpec, ActionSpec

    spec = JobSpec(FilterSpec(roots=["logs"], extensions=[".log"]),
                   ActionSpec(template="gzip -k {}"))
    with Batch(db="jobs.db") as batch:
        job = batch.submit(spec)          # scan + dedupe + store; nothing runs yet
        code = job.run()                  # blocking; or `await job.run_async()`
        # meanwhile, from any other thread: job.pause(), job.resume(), job.cancel(), ...
        for task in job.results():        # TaskRecord rows from the store
            ...

Groups run several jobs sequentially or in parallel, optionally cancelling the rest when one
fails; a job can wait for other jobs (``depends_on``).

The API is a client of the job system, like the CLI and the TUI: it may import the core
packages (errors, model, actions, select, store, engine, jobs) and none of the other clients.
``batch.py`` holds the objects a script uses, ``bridge.py`` the thread-safe hand-over of a
control to the loop that runs the job; these three names are all a script needs.
"""

from __future__ import annotations

from .batch import Batch, Job
from .bridge import JobNotRunning

__all__ = ["Batch", "Job", "JobNotRunning"]
