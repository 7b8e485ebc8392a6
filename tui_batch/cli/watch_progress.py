"""What a headless watch prints: lines for a service log, a status bar, or JSON lines.

A watch has no end, so its output is not `run`'s: one line per processed file and a status
line only when something changed (never the same line every few seconds while idle), "idle
since" instead of an ETA, and with ``--json`` every watcher event, task and statistics. It is
the `run` :class:`~.progress.Reporter` with those lines, subscribed to the watcher's events too.
All of it goes to stderr (JSON lines to stdout): stdout is the tasks' own output.
"""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING, Any

import humanize

from ..engine import EngineEvent, Event, Stats, TaskEvent
from ..jobs import counts_text
from ..model import TaskState
from ..watch import Watcher, WatchEvent, idle_since_wall
from .progress import Reporter, display_path, fmt_duration, stats_dict

if TYPE_CHECKING:
    from .task_output import TaskOutput

__all__ = ["WatchReporter", "watch_stats_line"]

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
    """Headless output of a watch: a :class:`~.progress.Reporter` whose lines suit
    a service log (see the module doc)."""

    def __init__(
        self, watcher: Watcher, style: str, *, out: IO[str] | None = None,
        line_interval: float = 5.0, output: TaskOutput | None = None,
        err: IO[str] | None = None,
    ) -> None:
        super().__init__(watcher.engine, style, job_id=watcher.job_id, out=out,
                         line_interval=line_interval, output=output, err=err)
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
        if self._steps is not None:  # a pipeline: which step of the file this was
            k = self._steps.step_of(ev.task_id) or 0
            name = self._steps.actions[k].name
            line = f"{state.value}: step {k + 1} {name}: {display_path(task.path)}"
        if ev.duration is not None and state is TaskState.DONE:
            line += f" ({ev.duration:.2f}s)"
        elif ev.reason:
            line += f" ({ev.reason})"
        self.err.write(line + "\n")
        self.err.flush()

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
            line = self._steps_too(watch_stats_line(st, settling, stopping=self.watcher.stopping))
            self.err.write(f"watch job {self.job_id}: {line}\n")
            self.err.flush()

    def _redraw_bar(self) -> None:
        if self.style == "bar" and not self._bar_shown:
            self._draw_status(self.engine.snapshot(), self.watcher.settling)

    def _draw_status(self, st: Stats, settling: int) -> None:
        import shutil

        width = shutil.get_terminal_size((80, 24)).columns
        line = "watching  " + self._steps_too(watch_stats_line(
            st, settling, stopping=self.watcher.stopping, compact=True))
        self.err.write("\r" + line[: width - 1].ljust(width - 1))
        self.err.flush()
        self._bar_shown = True

    def _steps_too(self, line: str) -> str:
        """A pipeline's status line ends with its counts per step, as `run`'s does."""
        return line if self._steps is None else f"{line}  {counts_text(self._steps)}"

    # -- watcher events ----------------------------------------------------------------------

    def on_watch_event(self, ev: WatchEvent) -> None:
        w = self.watcher
        if ev.kind == "queued" and ev.task_id is not None and self.output is not None:
            self.output.expect(ev.task_id)  # -k: its place comes before later tasks
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
            self.err.write(f"duplicate: {display_path(ev.path or '')} "
                           f"(same content as {display_path(str(ev.data.get('of')))})\n")
        elif ev.kind in ("output", "unchanged") and self.style == "lines":
            why = ev.message if ev.kind == "output" else "same content as already processed"
            self.err.write(f"not queued: {display_path(ev.path or '')} ({why})\n")
        elif ev.kind == "stopping":
            self._clear_bar()
            how = ("letting running tasks finish" if ev.message == "finish"
                   else "stopping running tasks")
            self.err.write(f"tui-batch: stopping the watch, {how}\n")
        self.err.flush()

    def finish(self, code: int) -> None:
        if self.output is not None:
            self.output.close()
        st = self.engine.snapshot()
        if self.style == "json":
            self._json({"event": "summary", "job": self.job_id, "exit_code": code,
                        **stats_dict(st)})
            return
        if self.style == "bar":
            self._draw_status(st, self.watcher.settling)
            self.err.write("\n")
        self.err.write(f"watch job {self.job_id} stopped: "
                       f"{self._steps_too(watch_stats_line(st, stopping=True))}\n")
        unfinished = (TaskState.QUEUED, TaskState.RUNNING, TaskState.INTERRUPTED)
        left = sum(1 for t in self.engine.tasks.values() if t.state in unfinished)
        if left:
            self.err.write(f"{left} task(s) not finished: they run when this watch starts "
                           "again\n")
        self.err.flush()
