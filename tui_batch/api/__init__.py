"""The Python API: the job system as a library, from a script or a host application.

    from tui_batch import Batch

    with Batch(db="jobs.db", workers=4) as batch:      # a background scheduler thread
        a = batch.submit_call("mypkg.tasks:fetch", args=("https://...",), retries=2)
        b = batch.submit_call(parse, after=[a], priority="high")
        g = batch.group("reports", sequential=True, cancel_on_failure=True)
        for month in range(1, 13):
            batch.submit_call("mypkg.tasks:report", args=(month,), group=g)
        print(b.wait(timeout=60), b.result())            # or JobFailed with the traceback
        g.wait()

    # after a crash:  with Batch(db="jobs.db") as batch: batch.resume_unfinished()

File jobs (a filter and an action run on each file) are submitted with ``batch.submit(spec)``:
with no scheduling argument they run with ``job.run()`` as before, else they join the
scheduler beside call jobs (``after=``, ``group=``, ``priority=``).

The API is a client of the job system, like the CLI and the TUI: it may import the core
packages (errors, model, actions, select, store, engine, jobs, scheduler) and none of the other
clients. ``batch.py`` holds the Batch, ``job.py`` the Job handle (``filejob.py`` its file-run
part), ``group.py`` the Group, ``bridge.py`` the thread-safe hand-over of a file run's controls.
"""

from __future__ import annotations

from ..scheduler import JobFailed, QueueFull, ResultNotKept
from .batch import Batch
from .bridge import JobNotRunning
from .group import Group
from .job import Job

__all__ = ["Batch", "Group", "Job", "JobFailed", "JobNotRunning", "QueueFull", "ResultNotKept"]
