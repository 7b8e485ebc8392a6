"""`tui-batch watch`: keep running and process every new or changed file as it settles.

Same filter, action, engine and output flags as `run` (one spec builder, so a watch and a run
can never disagree on what a flag means), plus the watch flags of the brief (``--settle``,
``--poll``, ``--rescan``) and what a long-running service needs: ``--on-stop`` (SIGTERM and
SIGHUP finish or stop the running tasks, save, exit 0), ``--watch-id`` (name the watch's
remembered state), ``--temp`` (more temporary-name patterns).

Output is for logs: one line per processed file and a status line when something changed
(never the same line every few seconds while idle), with "idle since" instead of an ETA, since
a watch has no end; JSON lines with ``--json`` (every watcher event, task and statistics).
SIGINT (Ctrl-C) stops running tasks and exits 130, as `run` does; what was left runs when the
same watch starts again.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import IO, Any

import click
import humanize

from .engine import EngineEvent, Event, Stats, TaskEvent
from .limits import GRACE, RESCAN, RESCAN_MIN, RETAIN, SETTLE, check_watch_options
from .model import TaskState
from .progress import Reporter, display_path, fmt_duration, stats_dict
from .watch import (
    DEFAULT_RESCAN,
    DEFAULT_RETAIN,
    DEFAULT_SETTLE,
    ON_STOP_CHOICES,
    Watcher,
    WatchError,
    WatchEvent,
    idle_since_wall,
)

__all__ = ["WatchReporter", "watch_cmd", "watch_stats_line"]

_HEARTBEAT = 60.0  # seconds between repeated, unchanged status lines (lines / JSON)


def watch_stats_line(
    st: Stats, settling: int = 0, *, stopping: bool = False, compact: bool = False
) -> str:
    """One status line for an open-ended run: counts, rate, and idle since when, no ETA.
    (``stopping``: the engine is paused only to let running tasks end; do not say PAUSED.
    ``compact``: fits an 80-column status bar, the idle time included.)"""
    parts = [f"done {st.done}"]
    if compact:  # only what is not zero
        for label, n in (("failed", st.failed), ("skipped", st.skipped),
                         ("cancelled", st.cancelled), ("running", st.running),
                         ("queued", st.queued), ("settling", settling)):
            if n:
                parts.append(f"{label} {n}")
        parts.append(f"{st.files_per_s:.1f}/s")
    else:
        parts.append(f"failed {st.failed}")
        if st.skipped:
            parts.append(f"skipped {st.skipped}")
        if st.cancelled:
            parts.append(f"cancelled {st.cancelled}")
        parts += [f"running {st.running}", f"queued {st.queued}", f"settling {settling}",
                  f"{st.files_per_s:.1f} files/s"]
        if st.bytes_per_s >= 1:
            parts.append(f"{humanize.naturalsize(st.bytes_per_s, binary=True)}/s")
    wall = idle_since_wall(st)
    if wall is not None and not st.running and not st.queued:
        if compact:
            parts.append(f"idle since {time.strftime('%H:%M:%S', time.localtime(wall))}")
        else:
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))
            parts.append(f"idle since {since} ({fmt_duration(time.time() - wall)})")
    if st.paused and not stopping:
        parts.append("PAUSED")
    if st.halted:
        parts.append("HALTED")
    return "  ".join(parts)


class WatchReporter(Reporter):
    """Headless output of a watch: a :class:`~tui_batch.progress.Reporter` whose lines suit
    a service log (see the module doc)."""

    def __init__(
        self, watcher: Watcher, style: str, *, out: IO[str] | None = None,
        line_interval: float = 5.0,
    ) -> None:
        super().__init__(watcher.engine, style, job_id=watcher.job_id, out=out,
                         line_interval=line_interval)
        self.watcher = watcher
        self._last_key: tuple[Any, ...] | None = None
        self._last_print = 0.0
        watcher.subscribe(self.on_watch_event)

    # -- engine events -----------------------------------------------------------------------

    def on_event(self, ev: Event) -> None:
        if type(ev) is EngineEvent and self.watcher.stopping and ev.kind in (
            "paused", "stopping", "finished",
        ):
            return  # part of the orderly stop, reported once by finish()
        super().on_event(ev)

    def _on_task(self, ev: TaskEvent) -> None:
        super()._on_task(ev)
        if self.style != "lines":
            return
        state = ev.state
        if state not in (TaskState.DONE, TaskState.SKIPPED, TaskState.CANCELLED,
                         TaskState.INTERRUPTED):
            return
        task = self.engine.tasks.get(ev.task_id)
        if task is None:
            return
        line = f"{state.value}: {display_path(task.path)}"
        if ev.duration is not None and state is TaskState.DONE:
            line += f" ({ev.duration:.2f}s)"
        elif ev.reason:
            line += f" ({ev.reason})"
        self.out.write(line + "\n")
        self.out.flush()

    def _on_stats(self, st: Stats) -> None:
        settling = self.watcher.settling
        # what a reader of the log cares about; the settling count alone moves too often
        key = (st.done, st.failed, st.skipped, st.cancelled, st.running, st.queued,
               st.paused, st.halted)
        now = time.monotonic()
        changed = key != self._last_key
        was_busy = self._last_key is not None and bool(self._last_key[4] or self._last_key[5])
        if self.style == "bar":
            self._draw_status(st, settling)
            return
        if self.style == "json":
            if (changed and now - self._last_print >= 1.0) or now - self._last_print >= _HEARTBEAT:
                self._last_key, self._last_print = key, now
                obj = {"event": "stats", "job": self.job_id, **stats_dict(st),
                       "settling": settling, "idle_since": idle_since_wall(st)}
                self._json(obj)
            return
        went_idle = was_busy and not st.running and not st.queued
        if (changed and (now - self._last_print >= self.line_interval or went_idle)) or (
            self._last_print and now - self._last_print >= _HEARTBEAT * 10
        ):
            self._last_key, self._last_print = key, now
            line = watch_stats_line(st, settling, stopping=self.watcher.stopping)
            self.out.write(f"watch job {self.job_id}: {line}\n")
            self.out.flush()

    def _draw_status(self, st: Stats, settling: int) -> None:
        import shutil

        width = shutil.get_terminal_size((80, 24)).columns
        line = "watching  " + watch_stats_line(st, settling, stopping=self.watcher.stopping,
                                               compact=True)
        self.err.write("\r" + line[: width - 1].ljust(width - 1))
        self.err.flush()
        self._bar_shown = True

    # -- watcher events ----------------------------------------------------------------------

    def on_watch_event(self, ev: WatchEvent) -> None:
        w = self.watcher
        if self.style == "json":
            obj: dict[str, Any] = {"event": "watch", "kind": ev.kind, "job": self.job_id}
            if ev.kind == "watching":
                obj.update(mode=ev.message, roots=list(w.roots), settle=w.settle,
                           identity=w.identity, resumed=w.resumed, leftover=w.leftover)
            else:
                if ev.path is not None:
                    obj["path"] = ev.path
                if ev.task_id is not None:
                    obj["task"] = ev.task_id
                if ev.message:
                    obj["message"] = ev.message
                obj.update(ev.data)
            self._json(obj)
            return
        if ev.kind == "watching":
            self._clear_bar()
            roots = " ".join(display_path(r) for r in w.roots)
            extra = f", {w.leftover} task(s) left from last time" if w.leftover else ""
            self.err.write(
                f"watching {roots} ({ev.message}, settle {w.settle:g}s, job {self.job_id}"
                f"{extra}); stop with Ctrl-C or SIGTERM\n"
            )
        elif ev.kind == "warning":
            self._clear_bar()
            where = f"{display_path(ev.path)}: " if ev.path else ""
            self.err.write(f"tui-batch: warning: {where}{ev.message}\n")
        elif ev.kind == "scan" and ev.data.get("reason") == "start" and self.style == "lines":
            self.err.write(f"start-up scan: {ev.data.get('new', 0)} file(s) to look at\n")
        elif ev.kind == "duplicate" and self.style == "lines":
            self.out.write(f"duplicate: {display_path(ev.path or '')} "
                           f"(same content as {display_path(str(ev.data.get('of')))})\n")
            self.out.flush()
        elif ev.kind in ("output", "unchanged") and self.style == "lines":
            why = ev.message if ev.kind == "output" else "same content as already processed"
            self.out.write(f"not queued: {display_path(ev.path or '')} ({why})\n")
            self.out.flush()
        elif ev.kind == "stopping":
            self._clear_bar()
            how = ("letting running tasks finish" if ev.message == "finish"
                   else "stopping running tasks")
            self.err.write(f"tui-batch: stopping the watch, {how}\n")
        self.err.flush()

    def finish(self, code: int) -> None:
        st = self.engine.snapshot()
        if self.style == "json":
            self._json({"event": "summary", "job": self.job_id, "exit_code": code,
                        **stats_dict(st)})
            return
        if self.style == "bar":
            self._draw_status(st, self.watcher.settling)
            self.err.write("\n")
        self.out.write(f"watch job {self.job_id} stopped: "
                       f"{watch_stats_line(st, stopping=True)}\n")
        unfinished = (TaskState.QUEUED, TaskState.RUNNING, TaskState.INTERRUPTED)
        left = sum(1 for t in self.engine.tasks.values() if t.state in unfinished)
        if left:
            self.out.write(f"{left} task(s) not finished: they run when this watch starts "
                           "again\n")
        self.out.flush()


async def _run_watch(watcher: Watcher, style: str) -> int:
    reporter = WatchReporter(watcher, style)
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


def _make_command() -> click.Command:
    """Build the click command. A function (not module-level decorators) because cli.py
    imports this module at its end to register the command: whichever of the two is imported
    first, the helpers of cli.py exist by the time this runs."""
    from .cli import (
        CONTEXT,
        _action_options,
        _engine_options,
        _filter_options,
        _open_store,
        _output_options,
        _reporter_style,
        _want_tui,
        build_spec,
    )

    @click.command("watch", context_settings=CONTEXT)
    @click.argument("roots", nargs=-1)
    @_filter_options
    @_action_options
    @_engine_options
    @_output_options
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
    def watch_cmd(roots: tuple[str, ...], settle: float, poll: bool, rescan: float, on_stop: str,
                  grace: float | None, watch_id: str | None, temp: tuple[str, ...], retain: int,
                  db: str | None, as_json: bool, headless: bool, **kw: Any) -> None:
        """Watch ROOTS (default: the current folder) and run the action on every new or changed
        file that matches the filter, once per content version, as soon as it is completely
        written. Files that arrived while tui-batch was not running are processed at start."""
        spec = build_spec(roots, kw)
        check_watch_options(settle=settle, rescan=rescan, grace=grace, retain=retain)
        if grace is not None:
            spec.settings.kill_grace = grace
        if _want_tui(as_json, headless):
            from .ui import run_tui

            sys.exit(run_tui(spec=spec, db=db, start="watch", watch={
                "settle": settle, "poll": poll, "rescan": rescan, "on_stop": on_stop,
                "watch_id": watch_id, "temp_patterns": temp, "retain_finished": retain,
            }))
        store = _open_store(db)
        try:
            watcher = Watcher(
                spec, store, settle=settle, poll=poll, rescan=rescan, on_stop=on_stop,
                watch_id=watch_id, temp_patterns=temp, retain_finished=retain,
            )
            try:
                code = asyncio.run(_run_watch(watcher, _reporter_style(as_json)))
            except WatchError as exc:
                if as_json:
                    click.echo(json.dumps({"event": "error", "message": str(exc)}))
                click.echo(f"tui-batch: error: watch: {exc}", err=True)
                code = 1
        finally:
            store.close()
        sys.exit(code)

    return watch_cmd


def __getattr__(name: str) -> Any:
    # `from .cli_watch import watch_cmd` while this module is still being imported (it was
    # imported first and is importing cli.py, which imports it back at its end).
    if name == "watch_cmd":
        cmd = globals().get("_command")
        if cmd is None:
            cmd = globals()["_command"] = _make_command()
        return cmd
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


import tui_batch.cli  # noqa: E402,F401  (registers the command; see _make_command)

watch_cmd: click.Command = __getattr__("watch_cmd")
