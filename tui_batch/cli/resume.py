"""`tui-batch resume JOB_ID`: finish a stored job after a crash, a kill, Ctrl-C or a reboot.

The job must already be in the store (which is never created here: a mistyped --db must not
make an empty one); its run lock makes a second resume of the same job refuse. On a terminal
the dashboard resumes it, otherwise it runs headless.
"""

from __future__ import annotations

import sys

import click

from .headless import reporter_style, run_headless, want_tui
from .options import CONTEXT, output_options
from .stores import open_existing_store

__all__ = ["resume_cmd"]


@click.command("resume", context_settings=CONTEXT)
@click.argument("job_id", type=int)
@click.option("--workers", "-j", type=int, metavar="N",
              help="Change the worker count (1 to 1024).")
@output_options
def resume_cmd(job_id: int, workers: int | None, db: str | None, as_json: bool,
               headless: bool) -> None:
    """Finish job JOB_ID after a crash, a kill, Ctrl-C or a reboot. Tasks that succeeded are
    not run again; tasks that were running are run again (at-least-once)."""
    if workers is not None:
        from ..model.limits import CLI_WORKERS

        CLI_WORKERS.check(workers)
    store = open_existing_store(db, job_id)
    try:
        store.get_job(job_id)
        if want_tui(as_json, headless):
            from ..ui import run_tui

            sys.exit(run_tui(job_id=job_id, db=db, start="resume"))
        sys.exit(run_headless(store, job_id, reporter_style(as_json), workers))
    finally:
        store.close()
