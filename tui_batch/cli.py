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
    folder for the default `open` command, not a typo'd subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["open", *args]
        return super().parse_args(ctx, args)


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
                     help="Command per file: {} {/} {//} {.} {/.} {out}."),
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
                     help="Parallel tasks (default: CPUs)."),
        click.option("--priority", metavar="P", help="low, normal, high or urgent."),
        click.option("--retries", type=int, metavar="N", help="Extra attempts after a failure."),
        click.option("--backoff", type=float, metavar="S", help="First retry delay (doubles)."),
        click.option("--timeout", type=float, metavar="S", help="Seconds per attempt."),
        click.option("--no-retry-code", multiple=True, type=int, metavar="CODE",
                     help="Exit code that is never retried (repeatable)."),
        click.option("--halt-after", type=int, metavar="N",
                     help="Start no new task after N failures."),
        click.option("--halt-percent", type=float, metavar="PCT",
                     help="Start no new task once PCT% of finished tasks failed."),
        click.option("--dedupe/--no-dedupe", default=None,
                     help="Skip duplicate files (default on)."),
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
    """CLI flags (over an optional recipe) -> a validated JobSpec."""
    from .filters import filter_from_options
    from .recipe import load_recipe_dict

    base: dict[str, Any] = {}
    if kw.get("recipe"):
        base = load_recipe_dict(kw["recipe"])
    fbase: dict[str, Any] = dict(base.get("filter") or {})
    abase: dict[str, Any] = dict(base.get("action") or {})
    sbase: dict[str, Any] = dict(base.get("settings") or {})

    exts: list[str] = []
    for e in kw.get("ext") or ():
        exts.extend(x for x in e.split(",") if x.strip())
    given_filter = any(
        kw.get(k) for k in ("ext", "min_size", "max_size", "newer", "older", "name", "exclude",
                            "exclude_re", "hidden", "follow", "no_ignore")
    )
    if base and not roots and not given_filter:
        from .model import FilterSpec

        flt = FilterSpec.from_dict(fbase)
    else:
        def pick(key: str, recipe_key: str, default: Any = None) -> Any:
            v = kw.get(key)
            if v not in (None, (), False, ""):
                return v
            return fbase.get(recipe_key, default)

        flt = filter_from_options(
            roots=list(roots) or list(fbase.get("roots") or ["."]),
            ext=exts or list(fbase.get("extensions") or []),
            min_size=_as_text(pick("min_size", "min_size")),
            max_size=_as_text(pick("max_size", "max_size")),
            newer=_as_text(pick("newer", "newer")),
            older=_as_text(pick("older", "older")),
            name=pick("name", "name_regex"),
            exclude=list(kw.get("exclude") or ()) + list(fbase.get("excludes") or []),
            exclude_re=list(kw.get("exclude_re") or ()) + list(fbase.get("exclude_res") or []),
            hidden=bool(kw.get("hidden") or fbase.get("hidden", False)),
            follow=bool(kw.get("follow") or fbase.get("follow", False)),
            no_ignore=bool(kw.get("no_ignore") or not fbase.get("use_ignore", True)),
        )

    if kw.get("exec_") is not None or kw.get("action_name") is not None:
        action = ActionSpec(
            template=kw.get("exec_"), shell=bool(kw.get("shell")), name=kw.get("action_name"),
            options={**{str(k): str(v) for k, v in (abase.get("options") or {}).items()},
                     **_parse_opts(kw.get("opt") or ())},
        )
        action.check()
    elif abase:
        action = ActionSpec.from_dict(abase)
        action.shell = action.shell or bool(kw.get("shell"))
        action.options.update(_parse_opts(kw.get("opt") or ()))
    else:
        fail("--exec", "no action: give --exec TEMPLATE or --action NAME")

    settings = EngineSettings.from_dict(sbase) if sbase else EngineSettings()
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
    if kw.get("workers") is not None and kw["workers"] < 1:
        fail("--workers", "must be at least 1")
    settings.check()
    if settings.out_dir is not None:
        settings.out_dir = os.path.abspath(settings.out_dir)
    return JobSpec(filter=flt, action=action, settings=settings, name=base.get("name"))


def _as_text(v: Any) -> str | None:
    return None if v is None else str(v)


def _want_tui(as_json: bool, headless: bool) -> bool:
    if as_json or headless or os.environ.get("TUI_BATCH_NO_TUI"):
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def _open_store(db: str | None) -> Any:
    from .store import Store

    return Store(db)


def _reporter_style(as_json: bool) -> str:
    if as_json:
        return "json"
    return "bar" if sys.stderr.isatty() else "lines"


async def _run_runner(runner: JobRunner, style: str) -> int:
    """Run a job headless with progress output and Ctrl-C / SIGTERM handling."""
    reporter = Reporter(runner.engine, style, job_id=runner.job_id)
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
    from .actions import TaskContext

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
    if as_json:
        click.echo(json.dumps({"event": "summary", "files": p.count, "bytes": p.total_bytes,
                               "duplicates": p.duplicates, "collisions": p.collisions,
                               "dry_run": True}))
    else:
        click.echo(summary, err=True)


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
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Batch-process files: pick them with filters, preview, run an action on each in
    parallel, and watch it on a live dashboard. Without a command: open the TUI here."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(open_cmd, folder=None)


@cli.command("open", hidden=True)
@click.argument("folder", required=False)
@click.option("--db", metavar="PATH")
def open_cmd(folder: str | None, db: str | None = None) -> None:
    """Open the TUI on FOLDER (default: the current folder)."""
    if folder is not None and not os.path.isdir(folder):
        fail("FOLDER", f"no such folder: {folder}")
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
@click.option("--workers", "-j", type=int, metavar="N", help="Change the worker count.")
@_output_options
def resume_cmd(job_id: int, workers: int | None, db: str | None, as_json: bool,
               headless: bool) -> None:
    """Finish job JOB_ID after a crash, a kill, Ctrl-C or a reboot. Tasks that succeeded are
    not run again; tasks that were running are run again (at-least-once)."""
    if workers is not None and workers < 1:
        fail("--workers", "must be at least 1")
    store = _open_store(db)
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
    """List the jobs in the job store with their task counts."""
    store = _open_store(db)
    try:
        jobs = store.list_jobs()
    finally:
        store.close()
    if as_json:
        for j in jobs:
            click.echo(json.dumps({
                "id": j.id, "state": j.state, "created_at": j.created_at,
                "updated_at": j.updated_at, "name": j.name, "total": j.total,
                "counts": j.counts, "roots": (j.spec.get("filter") or {}).get("roots"),
                "action": ActionSpec.from_dict(j.spec.get("action") or {}).label,
            }))
        return
    if not jobs:
        click.echo("no jobs yet (tui-batch run ... creates one)")
        return
    import datetime as dt

    click.echo(f"{'ID':>5}  {'CREATED':16}  {'STATE':11}  {'DONE':>7}  {'FAILED':>6}  "
               f"{'LEFT':>6}  {'TOTAL':>7}  ACTION / ROOTS")
    for j in jobs:
        c = j.counts
        left = c.get("queued", 0) + c.get("running", 0) + c.get("interrupted", 0)
        created = dt.datetime.fromtimestamp(j.created_at).strftime("%Y-%m-%d %H:%M")
        roots = " ".join((j.spec.get("filter") or {}).get("roots") or [])
        label = ActionSpec.from_dict(j.spec.get("action") or {}).label
        click.echo(f"{j.id:>5}  {created:16}  {j.state:11}  {c.get('done', 0):>7}  "
                   f"{c.get('failed', 0):>6}  {left:>6}  {j.total:>7}  {label}  [{roots}]")


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
@click.option("--db", metavar="PATH", help="Job store (default: a temp file).")
def demo_cmd(headless: bool, db: str | None) -> None:
    """Make a sample tree in a temp folder and open the TUI on it."""
    import tempfile

    from .demo import demo_spec, make_demo_tree

    folder = tempfile.mkdtemp(prefix="tui-batch-demo-")
    make_demo_tree(folder)
    spec = demo_spec(folder)
    db = db or os.path.join(folder, ".tui-batch-demo.db")
    click.echo(f"demo tree: {folder}", err=True)
    if headless or not _want_tui(False, False):
        store = _open_store(db)
        try:
            plan = plan_job(spec, store=store)
            job_id = create_job(store, plan)
            sys.exit(_run_headless(store, job_id, _reporter_style(False)))
        finally:
            store.close()
    from .ui import run_tui

    sys.exit(run_tui(root=folder, spec=spec, db=db, start="form"))


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
