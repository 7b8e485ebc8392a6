"""`tui-batch run`: plan a job from the flags, store it, run it (or only show it: --dry-run).

On a terminal the dashboard takes over once the flags are read (the TUI shows the plan
and runs the job); otherwise the scan warnings and the progress are printed, and output
collisions refuse the job before anything is stored.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..jobs import Plan, create_job, plan_job
from ..model import JobSpec
from ..store import Store
from .headless import reporter_style, run_headless, want_tui
from .options import (
    CONTEXT,
    action_options,
    build_spec,
    engine_options,
    fail,
    filter_options,
    output_choice,
    output_options,
)
from .progress import display_path
from .stores import open_store
from .task_output import OutputChoice

__all__ = ["run_cmd"]


@click.command("run", context_settings=CONTEXT)
@click.argument("roots", nargs=-1)
@filter_options
@action_options
@engine_options
@output_options
@click.option("--job-name", metavar="NAME",
              help="Name the job (shown by `tui-batch jobs`; --name is the file-name filter).")
@click.option("--after", multiple=True, type=int, metavar="JOB",
              help="Start only once job JOB is done (repeatable); if it fails, this job ends "
                   "'dependency failed'. The files are chosen when the job is stored.")
@click.option("--dry-run", is_flag=True, help="Show what would run; run nothing.")
@click.option("--detach", is_flag=True,
              help="Hand the job to the per-user service (started on first use) and print its "
                   "id at once; it outlives this terminal (tui-batch attach JOB).")
@click.option("--group", metavar="NAME",
              help="With --detach: run in the service's group NAME (tui-batch group add).")
def run_cmd(roots: tuple[str, ...], dry_run: bool, db: str | None, as_json: bool,
            headless: bool, job_name: str | None, after: tuple[int, ...], **kw: Any) -> None:
    """Run an action on every matching file under ROOTS (default: the current folder).

    Headless, each task's output is printed when it ends, as one block (stdout on stdout,
    stderr on stderr); progress and messages go to stderr. -k, --tag, --quiet and --results
    imply --headless. With --after, the job is stored at once, waits in the foreground
    (state 'waiting'; Ctrl-C leaves it resumable) and runs once those jobs are done."""
    choice = output_choice(kw)
    detach, group = kw.pop("detach", False), kw.pop("group", None)
    spec = build_spec(roots, kw)
    if job_name is not None:
        if not job_name.strip():
            fail("--job-name", "must not be empty")
        spec.name = job_name
    if choice.results is not None and not dry_run:
        from dataclasses import replace

        from .results import check_results_dir, fence_off

        folder = check_results_dir(choice.results, spec.filter.roots, spec.settings.out_dir)
        fence_off(spec, folder)
        choice = replace(choice, results=folder)
    if (detach or group is not None) and not dry_run:
        from .detach import check_detach_flags, run_detached

        check_detach_flags(detach, group, choice)
        sys.exit(run_detached(spec, db, as_json=as_json, group=group, after=after,
                              create=_plan_and_create))
    if after:
        sys.exit(_run_after(spec, after, db, as_json, headless, dry_run, choice))
    if not dry_run and want_tui(as_json, headless, choice):
        from ..ui import run_tui

        sys.exit(run_tui(spec=spec, db=db, start="run"))
    store = open_store(db)
    try:
        job_id = _plan_and_create(store, spec, as_json=as_json, dry_run=dry_run)
        if job_id is None:
            sys.exit(0)
        sys.exit(run_headless(store, job_id, reporter_style(as_json), choice=choice))
    finally:
        store.close()


def _run_after(spec: JobSpec, after: tuple[int, ...], db: str | None, as_json: bool,
               headless: bool, dry_run: bool, choice: OutputChoice) -> int:
    """``run --after``: the job is stored (with its links) before it waits, so the listing
    shows it waiting; on a terminal the dashboard opens once it may run."""
    from .after_wait import check_after, run_after, store_after, wait_for_after

    store = open_store(db)
    try:
        deps = check_after(store, after)
        tui = not dry_run and want_tui(as_json, headless, choice)
        job_id = _plan_and_create(store, spec, as_json=as_json, dry_run=dry_run)
        if job_id is None:
            return 0
        store_after(store, job_id, deps, int(spec.settings.priority))
        style = reporter_style(as_json)
        if not tui:
            return run_after(store, job_id, style, None, choice)
        code = wait_for_after(store, job_id, style)
        if code is not None:
            return code
    finally:
        store.close()
    from ..ui import run_tui

    return run_tui(job_id=job_id, db=db, start="resume")


def _plan_and_create(store: Store, spec: JobSpec, *, as_json: bool, dry_run: bool) -> int | None:
    """Scan and store the job (None for a dry run). A function of its own so the plan (every
    scanned entry and preview row) is freed before the run starts. The counts of scanning,
    hashing and creating go to stderr (JSON lines on stdout with --json) as they go; no file
    matched: said so, no job is stored, exit 0."""
    from .plan_progress import PlanProgress

    shown = PlanProgress(reporter_style(as_json))
    try:
        plan = plan_job(spec, store=store, progress=shown)
    finally:
        shown.finish()
    _report_issues(plan, as_json)
    empty = plan.nothing_matched()
    if empty is not None:
        if not as_json:
            click.echo(f"tui-batch: {empty}", err=True)
        elif not dry_run:
            click.echo(json.dumps({"event": "summary", "job": None, "exit_code": 0, "total": 0,
                                   "message": empty}))
        if not dry_run:
            return None
    if dry_run:
        _print_dry_run(plan, as_json)
        return None
    _check_collisions(plan)
    try:
        job_id = create_job(store, plan, progress=shown)
    finally:
        shown.finish()
    if not as_json:
        click.echo(f"job {job_id}: {plan.preview.count} files "
                   f"({plan.preview.duplicates} duplicates skipped)", err=True)
    return job_id


def _print_dry_run(plan: Plan, as_json: bool) -> None:
    from ..actions import TaskContext, plan_notes

    action: Any = plan.action
    settings = plan.spec.settings
    finals = _finals(plan)
    for seq, row in enumerate(plan.preview.rows, 1):  # {#}: the number the job will give it
        e = row.entry
        cmd: list[str] | None = None
        if finals is not None and row.duplicate_of is None:
            final = finals(e.root, e.rel)
            if as_json:
                click.echo(json.dumps({"event": "plan", "path": e.path, "size": e.size,
                                       "out": row.out_path, "final": final,
                                       **({"collision": row.collision} if row.collision else {})}))
            else:
                click.echo(f"{display_path(e.path)} -> "
                           f"{display_path(final) if final else '(no file)'}")
            continue
        if hasattr(action, "prepare") and row.duplicate_of is None:
            ctx = TaskContext(e.path, e.root, e.rel, e.size, e.mtime_ns, settings.out_dir,
                              row.out_path, plan.spec.action.options, 0, 1, seq=seq, slot=1)
            prepared = action.prepare(ctx, dry_run=True)
            cmd = list(prepared.argv)
        if as_json:
            obj: dict[str, Any] = {"event": "plan", "path": e.path, "size": e.size}
            if row.duplicate_of:
                obj["duplicate_of"] = row.duplicate_of
            if row.out_path:
                obj["out"] = row.out_path
            if row.collision:
                obj["collision"] = row.collision
            if cmd is not None:
                obj["argv"] = cmd
            click.echo(json.dumps(obj))
        else:
            if row.duplicate_of:
                click.echo(f"skip (duplicate of {display_path(row.duplicate_of)}): "
                           f"{display_path(e.path)}")
            elif cmd is not None:
                import shlex

                click.echo(" ".join(shlex.quote(display_path(a)) for a in cmd))
            else:
                click.echo(f"{plan.spec.action.label}: {display_path(e.path)}")
    p = plan.preview
    summary = (f"{p.count} files, {p.total_bytes} bytes, {p.duplicates} duplicates, "
               f"{p.collisions} output collisions (dry run: nothing was run)")
    notes = plan_notes(action, settings)  # the same words as the TUI preview and a run
    if as_json:
        click.echo(json.dumps({"event": "summary", "files": p.count, "bytes": p.total_bytes,
                               "duplicates": p.duplicates, "collisions": p.collisions,
                               "dedupe": bool(settings.dedupe), "notes": notes,
                               "dry_run": True}))
    else:
        click.echo(summary, err=True)
        for note in notes:
            click.echo(f"tui-batch: {note}", err=True)


def _finals(plan: Plan) -> Any:
    """For a pipeline: ``(root, rel) -> the last step's output`` (what a dry run shows for
    each file); None for a job of one action."""
    if not plan.spec.steps:
        return None
    from ..jobs import final_output
    from ..jobs.pipeline_setup import resolve_steps

    actions = resolve_steps(plan.spec)  # checked by the plan already: resolved, not refused
    out_dir, multi = plan.spec.settings.out_dir, plan.multi_root
    return lambda root, rel: final_output(actions, out_dir, root, rel, multi)


def _report_issues(plan: Plan, as_json: bool) -> None:
    for issue in plan.issues:
        if as_json:
            click.echo(json.dumps({"event": "scan_issue", "kind": issue.kind, "path": issue.path,
                                   "message": issue.message}))
        else:
            click.echo(f"tui-batch: warning: {issue.kind}: {display_path(issue.path)}: "
                       f"{issue.message}", err=True)


def _check_collisions(plan: Plan) -> None:
    bad = [r for r in plan.preview.rows if r.collision and r.duplicate_of is None]
    if bad:
        first = bad[0]
        fail("--out", f"{len(bad)} output collision(s), e.g. {display_path(first.entry.path)}: "
                      f"{first.collision} (use --dry-run to see all)")
