"""The `tui-batch` command (click).

Contracts from the brief: flag names, exit codes (0 ok, 1 some task failed or was cancelled,
2 bad usage or input with a one-line message naming the field, 130 interrupted and resumable),
and `run`/`resume` opening the dashboard on a terminal but printing progress otherwise.
The TUI is imported lazily so headless runs never load Textual.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from .errors import InputError, StoreError, TuiBatchError
from .jobs import EXIT_USAGE, JobRunner, create_job, plan_job
from .model import ActionSpec, EngineSettings, JobSpec, Priority
from .progress import Reporter, display_path, stats_line

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(field: str, message: str) -> NoReturn:
    raise InputError(field, message)


class _Group(click.Group):
    """`tui-batch DIR` opens the TUI on DIR: an unknown first word that is not an option is a
    folder for the default `open` command, not a typo'd subcommand. A leading ``--db PATH``
    goes with it: to `open` (``tui-batch --db X [DIR]``) or to the command that follows
    (``tui-batch --db X jobs``), so the store can be named before or after the command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = self._hoist_db(list(args))
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["open", *args]
        return super().parse_args(ctx, args)

    def _hoist_db(self, args: list[str]) -> list[str]:
        if args[:1] == ["--db"] and len(args) >= 2:
            db, rest = args[:2], args[2:]
        elif args and args[0].startswith("--db="):
            db, rest = args[:1], args[1:]
        else:
            return args
        if not rest or rest[0].startswith("-"):
            return args  # `--db X` alone or before --help/--version: the group's own option
        cmd = self.commands.get(rest[0])
        if cmd is None:
            return ["open", *db, *rest]  # `--db X DIR`
        if any(p.name == "db" for p in cmd.params):
            return [rest[0], *db, *rest[1:]]
        return args


def _filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--ext", "-e", "ext", multiple=True, metavar="EXT",
                     help="Keep files with this extension (repeatable, or comma-separated)."),
        click.option("--min-size", metavar="SIZE", help="At least this big (10k, 1.5MiB, 2GB)."),
        click.option("--max-size", metavar="SIZE", help="At most this big."),
        click.option("--newer", metavar="WHEN", help="Modified at or after (2024-05-01, 7d, 12h)."),
        click.option("--older", metavar="WHEN", help="Modified before."),
        click.option("--name", metavar="REGEX", help="Base name matches this regex."),
        click.option("--exclude", multiple=True, metavar="PATH_OR_GLOB",
                     help="Skip this path or glob (repeatable)."),
        click.option("--exclude-re", multiple=True, metavar="REGEX",
                     help="Skip relative paths matching this regex (repeatable)."),
        click.option("--hidden", is_flag=True, help="Include hidden files and folders."),
        click.option("--follow", is_flag=True, help="Follow symlinks (loops are detected)."),
        click.option("--no-ignore", is_flag=True, help="Do not honour .gitignore/.ignore files."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _action_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--exec", "-x", "exec_", metavar="TEMPLATE",
                     help="Command per file: {} {/} {//} {.} {/.} {out} {out.EXT}."),
        click.option("--shell", is_flag=True,
                     help="Run the template with sh -c (names passed as arguments, never pasted)."),
        click.option("--action", "-a", "action_name", metavar="NAME",
                     help="Built-in, plugin or module:function action."),
        click.option("--opt", multiple=True, metavar="KEY=VALUE", help="Action option."),
        click.option("--recipe", metavar="FILE.toml", help="Load the job from a recipe file."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--workers", "-j", type=int, metavar="N",
                     help="Parallel tasks, 1 to 1024 (default: CPUs)."),
        click.option("--priority", metavar="P", help="low, normal, high or urgent."),
        click.option("--retries", type=int, metavar="N",
                     help="Extra attempts after a failure (0 to 100)."),
        click.option("--backoff", type=float, metavar="S",
                     help="First retry delay, 0 to 3600 (doubles)."),
        click.option("--timeout", type=float, metavar="S",
                     help="Seconds per attempt (more than 0, at most 30 days)."),
        click.option("--no-retry-code", multiple=True, type=int, metavar="CODE",
                     help="Exit code (0 to 255) that is never retried (repeatable)."),
        click.option("--halt-after", type=int, metavar="N",
                     help="Start no new task after N failures (N >= 1)."),
        click.option("--halt-percent", type=float, metavar="PCT",
                     help="Start no new task once PCT% (more than 0, at most 100) of "
                          "finished tasks failed."),
        click.option("--dedupe/--no-dedupe", default=None,
                     help="Skip duplicate files (default on, off for actions that write one "
                          "output per file: copy, gzip, {out} templates)."),
        click.option("--out", metavar="DIR", help="Output folder (mirrors the input tree)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--db", metavar="PATH", help="Job store (default: user data folder)."),
        click.option("--json", "as_json", is_flag=True, help="JSON lines on stdout."),
        click.option("--headless", is_flag=True, help="No dashboard even on a terminal."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _parse_opts(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            fail("--opt", f"expected KEY=VALUE, got {p!r}")
        out[key.strip()] = value
    return out


def build_spec(roots: Sequence[str], kw: dict[str, Any]) -> JobSpec:
    """CLI flags (over an optional recipe) -> a validated JobSpec.

    A recipe's values are all validated first, inside its blame (errors name the file, the
    key and its line), including those a flag overrides: a wrong recipe is never half used.
    """
    from .filters import check_out_dir, filter_from_dict, filter_from_options
    from .limits import CLI_WORKERS
    from .model import FilterSpec
    from .recipe import read_recipe

    recipe = read_recipe(kw["recipe"]) if kw.get("recipe") else None
    cli_action = kw.get("exec_") is not None or kw.get("action_name") is not None
    rflt: FilterSpec | None = None
    raction: ActionSpec | None = None
    settings = EngineSettings()
    if recipe is not None:
        with recipe.blame():
            # the recipe's roots only matter (and must exist) when none are given here
            rflt = filter_from_dict(recipe.table("filter"), check_roots=not roots)
            if recipe.table("action"):
                raction = ActionSpec.from_dict(recipe.table("action"), partial=cli_action)
            settings = EngineSettings.from_dict(recipe.table("settings"))

    exts: list[str] = []
    for e in kw.get("ext") or ():
        exts.extend(x for x in e.split(",") if x.strip())
    given_filter = any(
        kw.get(k) for k in ("ext", "min_size", "max_size", "newer", "older", "name", "exclude",
                            "exclude_re", "hidden", "follow", "no_ignore")
    )
    if rflt is not None and not roots and not given_filter:
        flt = rflt
    else:
        base = rflt or FilterSpec()

        def pick(key: str, recipe_value: Any) -> Any:
            v = kw.get(key)
            return v if v not in (None, (), False, "") else recipe_value

        flt = filter_from_options(
            roots=list(roots) or list(base.roots),
            ext=exts or list(base.extensions),
            min_size=pick("min_size", base.min_size),
            max_size=pick("max_size", base.max_size),
            newer=pick("newer", base.newer),
            older=pick("older", base.older),
            name=pick("name", base.name_regex),
            exclude=list(kw.get("exclude") or ()) + list(base.excludes),
            exclude_re=list(kw.get("exclude_re") or ()) + list(base.exclude_res),
            hidden=bool(kw.get("hidden") or base.hidden),
            follow=bool(kw.get("follow") or base.follow),
            no_ignore=bool(kw.get("no_ignore") or not base.use_ignore),
        )

    if cli_action:
        action = ActionSpec(
            template=kw.get("exec_"), shell=bool(kw.get("shell")), name=kw.get("action_name"),
            options={**(raction.options if raction is not None else {}),
                     **_parse_opts(kw.get("opt") or ())},
        )
        action.check()
    elif raction is not None:
        action = raction
        action.shell = action.shell or bool(kw.get("shell"))
        action.options.update(_parse_opts(kw.get("opt") or ()))
    else:
        fail("--exec", "no action: give --exec TEMPLATE or --action NAME")

    for key, attr in (("workers", "workers"), ("retries", "retries"), ("backoff", "backoff"),
                      ("timeout", "timeout"), ("halt_after", "halt_after_failures"),
                      ("halt_percent", "halt_failure_percent"), ("out", "out_dir")):
        if kw.get(key) is not None:
            setattr(settings, attr, kw[key])
    if kw.get("priority") is not None:
        settings.priority = Priority.parse(kw["priority"])
    if kw.get("dedupe") is not None:
        settings.dedupe = kw["dedupe"]
    if kw.get("no_retry_code"):
        settings.no_retry_exit_codes = list(kw["no_retry_code"])
    if kw.get("workers") is not None:
        CLI_WORKERS.check(kw["workers"])
    settings.check()
    if settings.out_dir is not None:
        settings.out_dir = os.path.abspath(settings.out_dir)
        check_out_dir(flt.roots, settings.out_dir)
    name = recipe.data.get("name") if recipe is not None else None
    return JobSpec(filter=flt, action=action, settings=settings, name=name)


def _want_tui(as_json: bool, headless: bool) -> bool:
    if as_json or headless or os.environ.get("TUI_BATCH_NO_TUI"):
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def _open_store(db: str | None) -> Any:
    from .store import Store

    return Store(db)


def _open_existing_store(db: str | None, job_id: int) -> Any:
    """The store for a command about a job already in it (``resume``): refuse, creating
    nothing, when there is no store at all (a mistyped --db must not make an empty one)."""
    from .store import ENV_VAR, Store

    path = Store.resolve_path(db)
    if not os.path.exists(path):
        fail("--db" if db is not None or not os.environ.get(ENV_VAR) else ENV_VAR,
             f"no job store at {path}, so no job {job_id}")
    return Store(path)


def _open_store_readonly(db: str | None) -> Any:
    """The store for a command that only reads (``jobs``): opened read-only, so it works on
    a store the user may read but not write, and never creates one. None when no --db or
    TUI_BATCH_DB was given and the default store does not exist yet (nothing was run)."""
    from .store import ENV_VAR, Store

    path = Store.resolve_path(db)  # InputError for an unknown ~user
    if not os.path.exists(path):
        if db is not None:
            fail("--db", f"no job store at {path}")
        if os.environ.get(ENV_VAR):
            fail(ENV_VAR, f"no job store at {path}")
        return None
    return Store(path, readonly=True)


def _reporter_style(as_json: bool) -> str:
    if as_json:
        return "json"
    return "bar" if sys.stderr.isatty() else "lines"


async def _run_runner(runner: JobRunner, style: str) -> int:
    """Run a job headless with progress output and Ctrl-C / SIGTERM handling."""
    reporter = Reporter(runner.engine, style, job_id=runner.job_id, db=runner.store.path)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, runner.stop)
    try:
        code = await runner.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await runner.aclose()
    reporter.finish(code)
    return code


def _run_headless(store: Any, job_id: int, style: str, workers: int | None = None) -> int:
    runner = JobRunner(store, job_id, workers=workers)
    return asyncio.run(_run_runner(runner, style))


def _print_dry_run(plan: Any, as_json: bool) -> None:
    from .actions import TaskContext, plan_notes

    action: Any = plan.action
    settings = plan.spec.settings
    for row in plan.preview.rows:
        e = row.entry
        cmd: list[str] | None = None
        if hasattr(action, "prepare") and row.duplicate_of is None:
            ctx = TaskContext(e.path, e.root, e.rel, e.size, e.mtime_ns, settings.out_dir,
                              row.out_path, plan.spec.action.options, 0, 1)
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


def _report_issues(plan: Any, as_json: bool) -> None:
    for issue in plan.issues:
        if as_json:
            click.echo(json.dumps({"event": "scan_issue", "kind": issue.kind, "path": issue.path,
                                   "message": issue.message}))
        else:
            click.echo(f"tui-batch: warning: {issue.kind}: {display_path(issue.path)}: "
                       f"{issue.message}", err=True)


def _check_collisions(plan: Any) -> None:
    bad = [r for r in plan.preview.rows if r.collision and r.duplicate_of is None]
    if bad:
        first = bad[0]
        fail("--out", f"{len(bad)} output collision(s), e.g. {display_path(first.entry.path)}: "
                      f"{first.collision} (use --dry-run to see all)")


# ---------------------------------------------------------------------------- commands


@click.group(cls=_Group, context_settings=CONTEXT, invoke_without_command=True)
@click.version_option(package_name="tui-batch")
@click.option("--db", metavar="PATH",
              help="Job store of the TUI, or of the command that follows "
                   "(default: user data folder).")
@click.pass_context
def cli(ctx: click.Context, db: str | None = None) -> None:
    """Batch-process files: pick them with filters, preview, run an action on each in
    parallel, and watch it on a live dashboard. Without a command: open the TUI here."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(open_cmd, folder=None, db=db)


@cli.command("open", hidden=True)
@click.argument("folder", required=False)
@click.option("--db", metavar="PATH")
def open_cmd(folder: str | None, db: str | None = None) -> None:
    """Open the TUI on FOLDER (default: the current folder)."""
    if folder is not None and not os.path.isdir(folder):
        fail("FOLDER", f"no such folder: {folder}")
    if not _want_tui(False, False):
        # without a terminal Textual would draw into a pipe and wait for keys forever
        fail("TUI", "needs a terminal (stdin and stdout); in a script use "
                    "'tui-batch run ROOT --exec TEMPLATE' (see 'tui-batch run --help')")
    from .ui import run_tui

    sys.exit(run_tui(root=folder or ".", db=db, start="form"))


@cli.command("run", context_settings=CONTEXT)
@click.argument("roots", nargs=-1)
@_filter_options
@_action_options
@_engine_options
@_output_options
@click.option("--dry-run", is_flag=True, help="Show what would run; run nothing.")
def run_cmd(roots: tuple[str, ...], dry_run: bool, db: str | None, as_json: bool,
            headless: bool, **kw: Any) -> None:
    """Run an action on every matching file under ROOTS (default: the current folder)."""
    spec = build_spec(roots, kw)
    if not dry_run and _want_tui(as_json, headless):
        from .ui import run_tui

        sys.exit(run_tui(spec=spec, db=db, start="run"))
    store = _open_store(db)
    try:
        job_id = _plan_and_create(store, spec, as_json=as_json, dry_run=dry_run)
        if job_id is None:
            sys.exit(0)
        sys.exit(_run_headless(store, job_id, _reporter_style(as_json)))
    finally:
        store.close()


def _plan_and_create(store: Any, spec: JobSpec, *, as_json: bool, dry_run: bool) -> int | None:
    """Scan and store the job (None for a dry run). A function of its own so the plan (every
    scanned entry and preview row) is freed before the run starts."""
    plan = plan_job(spec, store=store)
    _report_issues(plan, as_json)
    if dry_run:
        _print_dry_run(plan, as_json)
        return None
    _check_collisions(plan)
    job_id = create_job(store, plan)
    if not as_json:
        click.echo(f"job {job_id}: {plan.preview.count} files "
                   f"({plan.preview.duplicates} duplicates skipped)", err=True)
    return job_id


@cli.command("resume", context_settings=CONTEXT)
@click.argument("job_id", type=int)
@click.option("--workers", "-j", type=int, metavar="N",
              help="Change the worker count (1 to 1024).")
@_output_options
def resume_cmd(job_id: int, workers: int | None, db: str | None, as_json: bool,
               headless: bool) -> None:
    """Finish job JOB_ID after a crash, a kill, Ctrl-C or a reboot. Tasks that succeeded are
    not run again; tasks that were running are run again (at-least-once)."""
    if workers is not None:
        from .limits import CLI_WORKERS

        CLI_WORKERS.check(workers)
    store = _open_existing_store(db, job_id)
    try:
        store.get_job(job_id)
        if _want_tui(as_json, headless):
            from .ui import run_tui

            sys.exit(run_tui(job_id=job_id, db=db, start="resume"))
        sys.exit(_run_headless(store, job_id, _reporter_style(as_json), workers))
    finally:
        store.close()


@cli.command("jobs", context_settings=CONTEXT)
@click.option("--db", metavar="PATH", help="Job store (default: user data folder).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job.")
def jobs_cmd(db: str | None, as_json: bool) -> None:
    """List the jobs in the job store with their task counts. A job whose process died is
    shown interrupted, with the command that resumes it."""
    from .hints import resume_command
    from .liveness import effective_counts, effective_state, job_liveness, tasks_left

    store = _open_store_readonly(db)
    jobs: list[Any] = []
    live: list[tuple[bool, int | None]] = []
    if store is not None:
        try:
            jobs = store.list_jobs()
            live = [job_liveness(store, j.id, spec=j.spec, state=j.state) for j in jobs]
        finally:
            store.close()
    rows = []
    for j, (running, pid) in zip(jobs, live, strict=True):
        counts = effective_counts(j.counts, running)
        left = tasks_left(counts)
        state = effective_state(j.state, running)
        hint = resume_command(j.id, store.path) if left and not running else None
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


@cli.command("actions", context_settings=CONTEXT)
def actions_cmd() -> None:
    """List the available actions (built-ins and plugins)."""
    from .actions import list_actions

    for a in list_actions():
        extra = " (needs --out)" if a.needs_out else ""
        click.echo(f"{a.name:14} {a.kind.value:10} {a.description}{extra}")
        for opt, help_text in (a.options or {}).items():
            click.echo(f"{'':14} --opt {opt}=...  {help_text}")


@cli.command("demo", context_settings=CONTEXT)
@click.option("--headless", is_flag=True, help="Run the demo job without the TUI.")
@click.option("--db", metavar="PATH", help="Job store (default: a file in the demo tree).")
@click.option("--keep", is_flag=True,
              help="Keep the demo tree (and its job store) at exit, to look at or resume; "
                   "by default it is removed, also after Ctrl-C, SIGTERM or SIGHUP.")
@click.option("--delay", type=float, default=0.4, show_default=True, metavar="S",
              help="Simulated work per file, in seconds (0 to 60; 0: full speed).")
def demo_cmd(headless: bool, db: str | None, keep: bool, delay: float) -> None:
    """Make a sample tree in a temp folder and open the TUI on it."""
    from .demo import DELAY, DemoTree, demo_spec, kept_report
    from .hints import forget_jobs_on_exit

    DELAY.check(delay)
    code = 0
    with DemoTree(keep=keep) as tree:
        spec = demo_spec(tree.folder, delay)
        store_path = db or tree.db
        if keep:
            click.echo(f"demo tree: {tree.folder} (kept at exit)", err=True)
        else:
            click.echo(f"demo tree: {tree.folder} (removed at exit; --keep keeps it)", err=True)
            forget_jobs_on_exit("the demo tree is removed at exit, so there is nothing to "
                                "resume ('tui-batch demo --keep' keeps it)")
        tui = not headless and _want_tui(False, False)
        if not tui:
            store = _open_store(store_path)
            try:
                job_id = create_job(store, plan_job(spec, store=store))
                code = _run_headless(store, job_id, _reporter_style(False))
            finally:
                store.close()
        else:
            from .ui import run_tui

            code = run_tui(root=tree.folder, spec=spec, db=store_path, start="form")
        if keep:
            # headless: the run's own summary already said how to resume
            for line in kept_report(tree.folder, store_path, resume=tui):
                click.echo(line)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: user mistakes become one line on stderr and exit 2."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="tui-batch",
                 standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("tui-batch: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # one line, naming the option, instead of click's usage block
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"tui-batch: error: {exc.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE if exc.exit_code != 0 else 0)
    except InputError as exc:
        click.echo(f"tui-batch: error: {exc.field}: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    except StoreError as exc:
        click.echo(f"tui-batch: error: --db: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except TuiBatchError as exc:
        click.echo(f"tui-batch: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("tui-batch: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)


__all__ = ["build_spec", "cli", "main", "stats_line"]

from .cli_watch import watch_cmd  # noqa: E402

cli.add_command(watch_cmd)
