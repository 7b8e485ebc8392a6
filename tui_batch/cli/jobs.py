"""`tui-batch jobs`: the jobs of a store, their task counts, and how to finish each one.

Read-only on purpose (it must work on a store the user may read but not write, and never
create one). A job whose process died is shown as it really is, interrupted (the stored state
still says running), with the command that resumes it; a job that runs says in which process.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..model import ActionSpec
from .options import CONTEXT
from .progress import display_path
from .stores import open_store_readonly

__all__ = ["jobs_cmd"]


@click.command("jobs", context_settings=CONTEXT)
@click.option("--db", metavar="PATH", help="Job store (default: user data folder).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job.")
def jobs_cmd(db: str | None, as_json: bool) -> None:
    """List the jobs in the job store with their task counts. A job whose process died is
    shown interrupted, with the command that resumes it."""
    from ..jobs import resume_command
    from ..store import effective_counts, effective_state, job_liveness, tasks_left

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
