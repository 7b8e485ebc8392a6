"""`tui-batch retry JOB`: run a job's failed (and cancelled) tasks again.

Why a command of its own: `resume` finishes what a job left undone, but a job that ended
with failures has nothing left undone, so it reran nothing. A running job is asked through its
control socket (the engine queues them again with a fresh retry budget, as the dashboard's
retry key does); a job no process runs has them queued again in the store (one transaction,
under its run lock, the job left resumable) and is then run here exactly as `resume` runs it:
the dashboard on a terminal, headless otherwise, with the same flags.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import StoreError
from ..jobs import EXIT_FAILED, resume_command
from .control_cmds import control_call, not_reachable, reach, say
from .options import CONTEXT, fail, output_options
from .resume import resume_cmd
from .stores import open_existing_store

__all__ = ["retry_cmd"]


@click.command("retry", context_settings=CONTEXT,
               short_help="Run a job's failed tasks again (running or finished).")
@click.argument("job_id", metavar="JOB", type=int)
@click.option("--workers", "-j", type=int, metavar="N",
              help="Worker count of the rerun of a finished job (1 to 1024).")
@output_options
@click.pass_context
def retry_cmd(ctx: click.Context, job_id: int, workers: int | None, db: str | None,
              as_json: bool, headless: bool, **kw: Any) -> None:
    """Run the failed and cancelled tasks of job JOB again, each with a fresh retry budget.
    A job running in any process queues them at once (exit 0). A job that ended is run again
    here, as `resume` runs it (dashboard on a terminal, else progress and task output), and
    exits as a run does: 0 when every task now succeeded, 1 when some failed again."""
    client = reach(db, job_id)
    if client is None:
        if workers is not None:
            from ..model.limits import CLI_WORKERS

            CLI_WORKERS.check(workers)
        if _requeue(db, job_id, as_json) is None:
            ctx.invoke(resume_cmd, job_id=job_id, workers=workers, db=db, as_json=as_json,
                       headless=headless, **kw)
            return
        client = not_reachable(db, job_id, as_json)  # served now: it was just starting
    answer = control_call(client, job_id, "retry")
    _said(job_id, int(answer.get("retried") or 0), as_json, running=True)


def _requeue(db: str | None, job_id: int, as_json: bool) -> bool | None:
    """Queue the failed tasks of a job no process runs; None when it is to be run now.
    True: a process serves it after all (its socket came up). Exits when there is nothing
    to run."""
    from ..store import effective_counts, job_liveness, lock_job, tasks_left, unlock_job

    store = open_existing_store(db, job_id)
    try:
        try:
            job = store.get_job(job_id)
        except StoreError:
            fail("JOB", f"no job {job_id} in {store.path}")
        if job.spec.get("kind") == "call":
            fail("JOB", f"job {job_id} is a Python call job: its host program retries it "
                        "(Job.retry() or Batch.resume_unfinished())")
        running, _pid = job_liveness(store, job_id, spec=job.spec, state=job.state)
        if running:
            return True
        fd = lock_job(store, job_id)  # nobody starts it while its tasks change
        try:
            n = store.retry_failed_tasks(job_id)
        finally:
            unlock_job(fd)
        if n:
            if not as_json:
                click.echo(f"tui-batch: job {job_id}: {_tasks(n)} queued again", err=True)
            return None
        left = tasks_left(effective_counts(store.task_counts(job_id), False))
        path = store.path
    finally:
        store.close()
    _said(job_id, 0, as_json, running=False)
    if left:
        click.echo(f"tui-batch: job {job_id} has {_tasks(left)} left to run: finish it with "
                   f"`{resume_command(job_id, path)}`", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(0)


def _said(job_id: int, n: int, as_json: bool, *, running: bool) -> None:
    if n:
        text = f"job {job_id}: {_tasks(n)} queued again"
    else:
        text = f"job {job_id} has no failed or cancelled task to retry"
    say(as_json, text, {"job": job_id, "retried": n, "running": running})


def _tasks(n: int) -> str:
    return f"{n} task{'s' if n != 1 else ''}"
