"""`tui-batch jobs`: the jobs of a store, their task counts, and how to finish each one;
`jobs JOB` one job in full (:mod:`.job_detail`); `jobs --prune AGE` removes old finished jobs.

Read-only on purpose (it must work on a store the user may read but not write, and never
create one), except ``--prune``. A job whose process died is shown as it really is,
interrupted (the stored state still says running), with the command that resumes it; a job
that runs says in which process.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..model import ActionSpec
from .options import CONTEXT, fail
from .progress import display_path
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
    """List the jobs in the job store with their task counts (a job whose process died is
    shown interrupted, with the command that resumes it). With JOB: that job in full, its
    spec, counts, timings and failures."""
    from ..jobs import resume_command
    from ..store import effective_counts, effective_state, job_liveness, tasks_left

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
    store = open_store_readonly(db)
    jobs: list[Any] = []
    live: list[tuple[bool, int | None]] = []
    if store is not None:
        try:
            jobs = store.list_jobs()
            live = [job_liveness(store, j.id, spec=j.spec, state=j.state) for j in jobs]
        finally:
            store.close()
    db_path = store.path if store is not None else None  # rows only when there is a store
    rows = []
    for j, (running, pid) in zip(jobs, live, strict=True):
        counts = effective_counts(j.counts, running)
        left = tasks_left(counts)
        state = effective_state(j.state, running)
        hint = resume_command(j.id, db_path) if left and not running else None
        rows.append((j, state, counts, left, pid, hint))
    if as_json:
        for j, state, counts, left, pid, hint in rows:
            click.echo(json.dumps({
                "id": j.id, "state": state, "created_at": j.created_at,
                "updated_at": j.updated_at, "name": j.name, "total": j.total,
                "counts": counts, "left": left, "pid": pid, "resume": hint,
                "roots": (j.spec.get("filter") or {}).get("roots"),
                "action": ActionSpec.from_dict(j.spec.get("action") or {}).label,
            }))
        return
    if not rows:
        click.echo("no jobs yet (tui-batch run ... creates one)")
        return
    import datetime as dt

    click.echo(f"{'ID':>5}  {'CREATED':16}  {'STATE':11}  {'DONE':>7}  {'FAILED':>6}  "
               f"{'LEFT':>6}  {'TOTAL':>7}  ACTION / ROOTS")
    for j, state, c, left, _, _ in rows:
        created = dt.datetime.fromtimestamp(j.created_at).strftime("%Y-%m-%d %H:%M")
        roots = " ".join(display_path(r) for r in (j.spec.get("filter") or {}).get("roots") or [])
        label = ActionSpec.from_dict(j.spec.get("action") or {}).label
        click.echo(f"{j.id:>5}  {created:16}  {state:11}  {c.get('done', 0):>7}  "
                   f"{c.get('failed', 0):>6}  {left:>6}  {j.total:>7}  {label}  [{roots}]")
    for j, state, _, left, pid, hint in rows:
        if hint:
            click.echo(f"job {j.id} {state}, {left:,} left: {hint}")
        elif pid:
            click.echo(f"job {j.id} is running in process {pid}")


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
