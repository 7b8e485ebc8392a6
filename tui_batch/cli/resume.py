"""`tui-batch resume JOB_ID`: finish a stored job after a crash, a kill, Ctrl-C or a reboot.

The job must already be in the store (which is never created here: a mistyped --db must not
make an empty one); its run lock makes a second resume of the same job refuse. On a terminal
the dashboard resumes it, otherwise it runs headless. A job stored with ``after`` links
(``run --after``) waits for them again first (:mod:`.after_wait`); a Python call job
(``Batch.submit_call``) given by reference is run here, headless (:mod:`.resume_call`).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from .options import CONTEXT, fail, output_choice, output_options
from .stores import open_existing_store

if TYPE_CHECKING:
    from ..store import JobRecord, Store

__all__ = ["resume_cmd"]


@click.command("resume", context_settings=CONTEXT)
@click.argument("job_id", type=int)
@click.option("--workers", "-j", type=int, metavar="N",
              help="Change the worker count (1 to 1024).")
@output_options
def resume_cmd(job_id: int, workers: int | None, db: str | None, as_json: bool,
               headless: bool, **kw: Any) -> None:
    """Finish job JOB_ID after a crash, a kill, Ctrl-C or a reboot. Tasks that succeeded are
    not run again; tasks that were running are run again (at-least-once). The tasks it runs
    print their output as `run` prints it. A job running in another process is un-paused
    there instead (-j also changes its worker count)."""
    # A job running in another process (reached through its control socket) is un-paused
    # there instead: it must not be run twice.
    from .control_cmds import unpause_if_running

    if unpause_if_running(db, job_id, as_json, workers):
        return
    from .headless import reporter_style, run_headless, want_tui  # the run's machinery

    choice = output_choice(kw)
    if workers is not None:
        from ..model.limits import CLI_WORKERS

        CLI_WORKERS.check(workers)
    store = open_existing_store(db, job_id)
    try:
        job = store.get_job(job_id)
        if job.spec.get("kind") == "call":
            from .resume_call import resume_call_job

            sys.exit(resume_call_job(store, job, workers, as_json))
        if choice.results is not None:
            from .results import check_results_dir

            flt, settings = job.spec.get("filter") or {}, job.spec.get("settings") or {}
            choice = replace(choice, results=check_results_dir(
                choice.results, list(flt.get("roots") or ()), settings.get("out_dir")))
        after, after_any = store.sched_links(job_id)
        tui = want_tui(as_json, headless, choice)
        if after or after_any:  # it waits for them again first
            from .after_wait import run_after, wait_for_after

            _refuse_if_held(store, job)
            if not tui:
                sys.exit(run_after(store, job_id, reporter_style(as_json), workers, choice))
            code = wait_for_after(store, job_id, reporter_style(as_json))
            if code is not None:
                sys.exit(code)
        if tui:
            from ..ui import run_tui

            sys.exit(run_tui(job_id=job_id, db=db, start="resume"))
        sys.exit(run_headless(store, job_id, reporter_style(as_json), workers, choice))
    finally:
        store.close()


def _refuse_if_held(store: Store, job: JobRecord) -> None:
    """A job waiting in another process (``run --after``) holds no run lock yet: refuse to
    wait for it twice."""
    from ..store import job_liveness

    live, pid = job_liveness(store, job.id, spec=job.spec, state=job.state)
    if live:
        who = f" (pid {pid})" if pid else ""
        fail("JOB_ID", f"job {job.id} is already {job.state} in another process{who}")
