"""`tui-batch resume JOB_ID`: finish a stored job after a crash, a kill, Ctrl-C or a reboot.

The job must already be in the store (which is never created here: a mistyped --db must not
make an empty one); its run lock makes a second resume of the same job refuse. On a terminal
the dashboard resumes it, otherwise it runs headless.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from .headless import reporter_style, run_headless, want_tui
from .options import CONTEXT, fail, output_choice, output_options
from .stores import open_existing_store

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
    print their output as `run` prints it."""
    choice = output_choice(kw)
    if workers is not None:
        from ..model.limits import CLI_WORKERS

        CLI_WORKERS.check(workers)
    store = open_existing_store(db, job_id)
    try:
        job = store.get_job(job_id)
        if job.spec.get("kind") == "call":
            # a Python call job belongs to its host: only it can import and run the function
            fail("JOB", f"job {job_id} is a Python call job: its host program resumes it "
                        "(Batch.resume_unfinished())")
        if choice.results is not None:
            from .results import check_results_dir

            flt, settings = job.spec.get("filter") or {}, job.spec.get("settings") or {}
            choice = replace(choice, results=check_results_dir(
                choice.results, list(flt.get("roots") or ()), settings.get("out_dir")))
        if want_tui(as_json, headless, choice):
            from ..ui import run_tui

            sys.exit(run_tui(job_id=job_id, db=db, start="resume"))
        sys.exit(run_headless(store, job_id, reporter_style(as_json), workers, choice))
    finally:
        store.close()
