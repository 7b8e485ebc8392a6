"""`tui-batch watch`: keep running and process every new or changed file as it settles.

Same filter, action, engine and output flags as `run` (one spec builder, so a watch and a run
can never disagree on what a flag means), plus the watch flags of the brief (``--settle``,
``--poll``, ``--rescan``) and what a long-running service needs: ``--on-stop`` (SIGTERM and
SIGHUP finish or stop the running tasks, save, exit 0), ``--watch-id`` (name the watch's
remembered state), ``--temp`` (more temporary-name patterns).

Headless, each task's output is printed as it ends, as `run` prints it (:mod:`.task_output`),
and the rest is for logs, on stderr (:mod:`.watch_progress`). SIGINT (Ctrl-C) stops running
tasks and exits 130, as `run` does; what was left runs when the same watch starts again.

``--detach`` hands the watch to the per-user service instead (:mod:`.detach`, as `run
--detach`): it prints the job id at once and keeps watching after the terminal is gone, its
settle, poll, rescan and on-stop flags travelling with it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from ..model import JobSpec
from ..model.limits import GRACE, RESCAN, RESCAN_MIN, RETAIN, SETTLE, check_watch_options
from ..watch import (
    DEFAULT_RESCAN,
    DEFAULT_RETAIN,
    DEFAULT_SETTLE,
    ON_STOP_CHOICES,
    Watcher,
    WatchError,
)
from .headless import make_output, reporter_style, stdout_closed, want_tui
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
from .stores import open_store
from .task_output import OutputChoice
from .watch_progress import WatchReporter

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["watch_cmd"]


@click.command("watch", context_settings=CONTEXT)
@click.argument("roots", nargs=-1)
@filter_options
@action_options
@engine_options
@output_options
@click.option("--settle", type=float, default=DEFAULT_SETTLE, show_default=True, metavar="S",
              help="Queue a file once its size and mtime stayed the same this long "
                   f"({SETTLE.describe()}).")
@click.option("--poll", is_flag=True,
              help="Poll instead of OS notifications (network file systems).")
@click.option("--rescan", type=float, default=DEFAULT_RESCAN, show_default=True, metavar="S",
              help="Reconcile scan every S seconds, for events the OS dropped (0: never; "
                   f"else {RESCAN_MIN:g} to {RESCAN.hi:g}).")
@click.option("--on-stop", type=click.Choice(ON_STOP_CHOICES), default="finish",
              show_default=True,
              help="On SIGTERM/SIGHUP: let running tasks finish (within --grace), or "
                   "stop them.")
@click.option("--grace", type=float, metavar="S",
              help=f"Seconds running tasks get to finish on stop ({GRACE.describe()}; "
                   "default 5).")
@click.option("--watch-id", metavar="NAME",
              help="Name this watch's state and job (default: from roots, filter, action).")
@click.option("--temp", multiple=True, metavar="GLOB",
              help="Also ignore files named like this until renamed (repeatable).")
@click.option("--retain", type=int, default=DEFAULT_RETAIN, show_default=True, metavar="N",
              help="Finished tasks kept in memory for display (the counts keep counting; "
                   f"{RETAIN.describe()}).")
@click.option("--detach", is_flag=True,
              help="Hand the watch to the per-user service (started on first use) and print "
                   "its job id at once; it keeps watching after this terminal is gone.")
@click.option("--group", metavar="NAME",
              help="With --detach: run in the service's group NAME (tui-batch group add).")
@click.option("--after", multiple=True, type=int, metavar="JOB",
              help="With --detach: start watching only once job JOB is done (repeatable).")
def watch_cmd(roots: tuple[str, ...], settle: float, poll: bool, rescan: float, on_stop: str,
              grace: float | None, watch_id: str | None, temp: tuple[str, ...], retain: int,
              db: str | None, as_json: bool, headless: bool, detach: bool, group: str | None,
              after: tuple[int, ...], **kw: Any) -> None:
    """Watch ROOTS (default: the current folder) and run the action on every new or changed
    file that matches the filter, once per content version, as soon as it is completely
    written. Files that arrived while tui-batch was not running are processed at start."""
    choice = output_choice(kw)
    spec = build_spec(roots, kw)  # a pipeline ([[steps]], --then): every version, every step
    check_watch_options(settle=settle, rescan=rescan, grace=grace, retain=retain)
    if grace is not None:
        spec.settings.kill_grace = grace
    if choice.results is not None:
        from dataclasses import replace

        from .results import check_results_dir, fence_off

        folder = check_results_dir(choice.results, spec.filter.roots, spec.settings.out_dir)
        fence_off(spec, folder)  # its files must never be new files of the watch
        choice = replace(choice, results=folder)
    flags: dict[str, Any] = {
        "settle": settle, "poll": poll, "rescan": rescan, "on_stop": on_stop,
        "watch_id": watch_id, "temp_patterns": temp, "retain_finished": retain,
    }
    if detach or group is not None or after:
        sys.exit(_detach(spec, db, as_json, choice, group, after, flags, detach))
    if want_tui(as_json, headless, choice):
        from ..ui import run_tui

        sys.exit(run_tui(spec=spec, db=db, start="watch", watch=flags))
    store = open_store(db)
    try:
        watcher = Watcher(
            spec, store, settle=settle, poll=poll, rescan=rescan, on_stop=on_stop,
            watch_id=watch_id, temp_patterns=temp, retain_finished=retain,
        )
        try:
            code = asyncio.run(_run_watch(watcher, reporter_style(as_json), choice))
        except WatchError as exc:
            if as_json:
                click.echo(json.dumps({"event": "error", "message": str(exc)}))
            click.echo(f"tui-batch: error: watch: {exc}", err=True)
            code = 1
    finally:
        store.close()
    sys.exit(code)


def _detach(spec: JobSpec, db: str | None, as_json: bool, choice: OutputChoice, group: str | None,
            after: tuple[int, ...], flags: dict[str, Any], detach: bool) -> int:
    """`watch --detach`: open the watch's job here, hand the watch to the service."""
    from ..jobs import resolve_checked_action
    from ..watch.handoff import open_watch_job, watch_entry
    from ..watch.temp import compile_temp_patterns
    from .detach import check_detach_flags, run_detached

    check_detach_flags(detach, group, choice)
    if not detach:
        fail("--after", "a watch waits for other jobs in the service: add --detach")
    compile_temp_patterns(flags["temp_patterns"])  # what the service's Watcher would refuse,
    resolve_checked_action(spec)  # refused here, before a job is stored
    entry = watch_entry(spec, **flags)

    def create(store: Store, spec: JobSpec, *, as_json: bool, dry_run: bool) -> int:
        return open_watch_job(store, spec, watch_id=flags["watch_id"], settle=flags["settle"],
                              poll=flags["poll"], rescan=flags["rescan"])

    return run_detached(spec, db, as_json=as_json, group=group, after=after, create=create,
                        watch=entry)


async def _run_watch(watcher: Watcher, style: str, choice: OutputChoice) -> int:
    output = make_output(watcher.engine, watcher.store, watcher.job_id, style, choice,
                         multi_root=watcher.multi_root)
    output.on_broken = lambda: stdout_closed(watcher.stop)
    reporter = WatchReporter(watcher, style, output=output)
    loop = asyncio.get_running_loop()
    handlers = {signal.SIGTERM: watcher.stop, signal.SIGHUP: watcher.stop,
                signal.SIGINT: watcher.interrupt}
    for sig, fn in handlers.items():
        loop.add_signal_handler(sig, fn)
    code = 1
    try:
        code = await watcher.run()
    finally:
        for sig in handlers:
            loop.remove_signal_handler(sig)
        await watcher.aclose()
        reporter.finish(code)
    return code
