"""`tui-batch jobs`: the jobs of a store, their task counts, and how to finish each one;
`jobs JOB` one job in full (:mod:`.job_detail`); `jobs --prune AGE` removes old finished jobs.

Read-only on purpose (it must work on a store the user may read but not write, and never
create one), except ``--prune``. A job whose process died is shown as it really is,
interrupted (the stored state still says running), with the command that resumes it; a job
that runs says in which process. The list itself is :mod:`.job_list`'s.
"""

from __future__ import annotations

import json

import click

from ..model import ActionSpec
from .options import CONTEXT, fail
from .stores import open_store_readonly

__all__ = ["jobs_cmd", "prune_jobs"]


@click.command("jobs", context_settings=CONTEXT,
               short_help="List the jobs; one job in full (JOB); remove old ones (--prune).")
@click.argument("job_id", metavar="[JOB]", type=int, required=False)
@click.option("--db", metavar="PATH", help="Job store (default: user data folder).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job.")
@click.option("--prune", metavar="AGE",
              help="Remove finished jobs (done, failed, cancelled) last changed more than AGE "
                   "ago (7d, 12h, 30m, or a date) with their logs, and older cached hashes.")
@click.option("--dry-run", is_flag=True, help="With --prune: list what would go, remove nothing.")
def jobs_cmd(job_id: int | None, db: str | None, as_json: bool, prune: str | None,
             dry_run: bool) -> None:
    """List the jobs in the job store: file jobs with their task counts, Python call jobs
    with their function, group and dependencies (a job whose process died is shown
    interrupted, with the command that resumes it; a waiting job says what it waits for).
    With JOB: that job in full (a call job: its arguments, result or error)."""
    if prune is not None:
        if job_id is not None:
            fail("--prune", "prunes every old finished job: give no JOB with it")
        prune_jobs(db, prune, dry_run, as_json)
        return
    if dry_run:
        fail("--dry-run", "only goes with --prune")
    if job_id is not None:
        _one_job(db, job_id, as_json)
        return
    from .job_list import list_rows, print_jobs

    store = open_store_readonly(db)
    rows = []
    if store is not None:
        try:
            rows = list_rows(store, store.list_jobs())
        finally:
            store.close()
    print_jobs(rows, as_json)


def _one_job(db: str | None, job_id: int, as_json: bool) -> None:
    from ..store import job_liveness
    from .job_detail import show_job
    from .log import load_job

    store, job = load_job(db, job_id)
    try:
        running, pid = job_liveness(store, job_id, spec=job.spec, state=job.state)
        show_job(store, job, running, pid, as_json)
    finally:
        store.close()


def prune_age(text: str) -> float:
    """Seconds in ``--prune AGE`` (``7d``, ``12h``, ``30m``, ``1d12h``, or a date: what is
    older than that date)."""
    import time

    from ..select.values import parse_when

    now = time.time()
    cutoff = parse_when(text, "--prune", now=now)
    if cutoff > now:
        fail("--prune", f"{text!r} is in the future: nothing can be older than that")
    return now - cutoff


def prune_jobs(db: str | None, age: str, dry_run: bool, as_json: bool) -> None:
    """``jobs --prune AGE``: remove finished jobs older than AGE with their logs, orphaned
    log folders and older cached hashes (or, ``dry_run``, say what would go)."""
    import time

    from ..store import Store

    older_than = prune_age(age)
    ro = open_store_readonly(db)
    if ro is None:
        if as_json:
            click.echo(json.dumps({"dry_run": dry_run, "jobs": [], "hashes": 0,
                                   "log_folders": 0}))
        else:
            click.echo("nothing to prune (no job store yet)")
        return
    ro.close()
    store = Store(ro.path, readonly=dry_run)
    try:
        jobs = {j.id: j for j in store.list_jobs()} if dry_run else {}
        orphans = list(store.orphan_log_dirs())
        if dry_run:
            cutoff = time.time() - older_than
            ids, hashes = store.finished_before(cutoff), store.count_hashes_before(cutoff)
        else:
            ids, hashes = store.prune(older_than)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "jobs": ids, "hashes": hashes,
                               "log_folders": len(orphans)}))
        return
    import datetime as dt

    for i in ids if dry_run else ():
        j = jobs.get(i)
        if j is not None:
            when = dt.datetime.fromtimestamp(j.updated_at).strftime("%Y-%m-%d %H:%M")
            label = ActionSpec.from_dict(j.spec.get("action") or {}).label
            click.echo(f"{i:>5}  {j.state:9}  {when}  {j.total:>7,} tasks  {label}")
    what = [f"{len(ids)} job{'s' if len(ids) != 1 else ''}"
            + (f" ({', '.join(map(str, ids))})" if ids else ""),
            f"{hashes:,} cached hash{'es' if hashes != 1 else ''}"]
    if orphans:
        what.insert(1, f"{len(orphans)} orphaned log folder{'s' if len(orphans) != 1 else ''}")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {', '.join(what[:-1])} and {what[-1]}")
