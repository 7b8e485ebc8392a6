"""Headless progress output: a one-line bar on a terminal, plain lines otherwise, JSON lines
with --json.

It is an ordinary engine subscriber, like the TUI, and it coalesces: statistics are printed at
most a few times per second whatever the task rate, while failures are printed as they happen
(a failure is what a person watching a cron log needs to see). Every word of it goes to stderr:
stdout is the tasks' own output (:mod:`.task_output`, which the reporter drives so a task's
block comes before the line saying it failed), or the JSON lines with --json.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import humanize

from ..engine import Engine, EngineEvent, Event, Stats, StatsEvent, TaskEvent
from ..jobs import Pipeline, counts_text, resume_advice, resume_hint
from ..model import TaskState

if TYPE_CHECKING:
    from .task_output import TaskOutput


def display_path(path: str) -> str:
    """A path safe to print: undecodable bytes shown as \\xNN, control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = text.encode("unicode_escape").decode("ascii")
    return text


def fmt_duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss`` (``-`` for an unknown duration)."""
    if seconds is None:
        return "-"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def stats_line(st: Stats) -> str:
    """One human line: counts, rate and ETA."""
    parts = [
        f"{st.finished_count}/{st.total}",
        f"done {st.done}",
        f"failed {st.failed}",
    ]
    if st.skipped:
        parts.append(f"skipped {st.skipped}")
    if st.cancelled:
        parts.append(f"cancelled {st.cancelled}")
    parts.append(f"running {st.running}")
    parts.append(f"{st.files_per_s:.1f} files/s")
    if st.bytes_per_s:
        parts.append(f"{humanize.naturalsize(st.bytes_per_s, binary=True)}/s")
    parts.append(f"elapsed {fmt_duration(st.elapsed)}")
    if st.eta is not None and not st.finished:
        parts.append(f"ETA {fmt_duration(st.eta)}")
    if st.paused:
        parts.append("PAUSED")
    if st.halted:
        parts.append("HALTED")
    return "  ".join(parts)


def stats_dict(st: Stats) -> dict[str, Any]:
    """The statistics of a JSON ``stats``/``summary`` line."""
    return {
        "total": st.total, "queued": st.queued, "running": st.running, "done": st.done,
        "failed": st.failed, "cancelled": st.cancelled, "skipped": st.skipped,
        "success_rate": st.success_rate, "files_per_s": round(st.files_per_s, 3),
        "bytes_per_s": round(st.bytes_per_s, 1), "eta": st.eta, "elapsed": round(st.elapsed, 3),
        "bytes_done": st.bytes_done, "bytes_total": st.bytes_total,
    }


class Reporter:
    """Prints engine progress in one of three styles: 'bar', 'lines' or 'json' (``out`` is
    where JSON lines go; everything else goes to ``err``). ``output`` prints the tasks'
    output, and its blocks scroll above the bar."""

    def __init__(
        self, engine: Engine, style: str, *, job_id: int, out: IO[str] | None = None,
        line_interval: float = 5.0, db: str | None = None, output: TaskOutput | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.engine = engine
        self.style = style
        self.job_id = job_id
        self.db = db  # the job store's path, so the resume hint names it (None: the default)
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.line_interval = line_interval
        self._last_line = 0.0
        self._bar_shown = False
        self.output = output if output is not None and output.active else None
        self._tails = output is None or not output.prints
        """Failure lines quote the last stderr lines (not when the whole block is printed)."""
        if self.output is not None:
            self.output.before_block = self._clear_bar
            self.output.after_block = self._redraw_bar
        self._steps = engine if isinstance(engine, Pipeline) else None
        """A pipeline job: per-step counts on the progress lines, ``step`` in JSON events."""
        engine.subscribe(self.on_event)
        self._first_line()

    def _line(self, st: Stats) -> str:
        """The counts of a progress line (with a pipeline's per-step counts after them)."""
        if self._steps is None:
            return stats_line(st)
        return f"{stats_line(st)}  {counts_text(self._steps)}"

    def _first_line(self) -> None:
        """Before any progress: say what the user did not write (the path appended)."""
        from ..actions import append_note

        note = append_note(self.engine.action)
        if note is None:
            return
        if self.style == "json":
            self._json({"event": "note", "job": self.job_id, "message": note})
        else:
            self.err.write(f"tui-batch: {note}\n")
            self.err.flush()

    def _json(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    def on_event(self, ev: Event) -> None:
        if type(ev) is TaskEvent:
            self._on_task(ev)
        elif type(ev) is StatsEvent:
            self._on_stats(ev.stats)
        elif type(ev) is EngineEvent and ev.kind in ("halted", "paused", "resumed", "stopping"):
            if self.style == "json":
                self._json({"event": ev.kind, "job": self.job_id, "message": ev.message})
            else:
                self._clear_bar()
                self.err.write(f"tui-batch: {ev.message or ev.kind}\n")

    def _on_task(self, ev: TaskEvent) -> None:
        state = ev.state
        captured = None
        if self.output is not None:
            task = self.engine.tasks.get(ev.task_id)
            if task is not None:
                captured = self.output.on_task(ev, task)
        if self.style == "json":
            if state is TaskState.RUNNING:
                return
            task = self.engine.tasks[ev.task_id]
            obj: dict[str, Any] = {
                "event": "task", "job": self.job_id, "id": ev.task_id, "path": task.path,
                "state": state.value, "attempt": ev.attempt,
            }
            if ev.exit_code is not None:
                obj["exit_code"] = ev.exit_code
            if ev.signal is not None:
                obj["signal"] = ev.signal
            if ev.error:
                obj["error"] = ev.error
            if ev.reason:
                obj["reason"] = ev.reason
            if ev.duration is not None:
                obj["duration"] = round(ev.duration, 6)
            if self._steps is not None:
                obj["step"] = (self._steps.step_of(ev.task_id) or 0) + 1  # counted from 1
            if captured is not None and self.output is not None and self.output.wants_json:
                from .task_output import json_fields

                obj.update(json_fields(captured))
            self._json(obj)
            return
        if state is TaskState.FAILED or (state is TaskState.QUEUED and ev.duration is not None):
            task = self.engine.tasks[ev.task_id]
            what = "failed" if state is TaskState.FAILED else "retrying"
            self._clear_bar()
            line = f"{what}: {display_path(task.path)}: {ev.error or ''}"
            if state is TaskState.QUEUED and ev.reason:
                line += f" ({ev.reason})"
            tail = (task.stderr_tail or "").strip().splitlines()[-3:] if self._tails else ()
            for t in tail:
                line += f"\n    {t}"
            self.err.write(line + "\n")
            self.err.flush()

    def _on_stats(self, st: Stats) -> None:
        if self.style == "json":
            now = time.monotonic()
            if now - self._last_line >= 1.0:
                self._last_line = now
                self._json({"event": "stats", "job": self.job_id, **stats_dict(st)})
        elif self.style == "bar":
            self._draw_bar(st)
        else:
            now = time.monotonic()
            if now - self._last_line >= self.line_interval:
                self._last_line = now
                self.err.write(f"job {self.job_id}: {self._line(st)}\n")
                self.err.flush()

    def _draw_bar(self, st: Stats) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        text = self._line(st)
        frac = st.finished_count / st.total if st.total else 1.0
        bar_w = max(10, min(30, width - len(text) - 8))
        filled = int(frac * bar_w)
        line = f"[{'#' * filled}{'.' * (bar_w - filled)}] {frac * 100:3.0f}% {text}"
        self.err.write("\r" + line[: width - 1].ljust(width - 1))
        self.err.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            width = shutil.get_terminal_size((80, 24)).columns
            self.err.write("\r" + " " * (width - 1) + "\r")
            self.err.flush()
            self._bar_shown = False

    def _redraw_bar(self) -> None:
        """After a task's output block: the bar again, below it, with the counts of now."""
        if self.style == "bar" and not self._bar_shown:
            self._draw_bar(self.engine.snapshot())

    def finish(self, code: int) -> None:
        if self.output is not None:
            self.output.close()
        st = self.engine.snapshot()
        resumable = code == 130 or (code == 1 and bool(st.queued or st.running))
        hint = resume_hint(self.job_id, self.db) if resumable else None
        if self.style == "json":
            summary = {"event": "summary", "job": self.job_id, "exit_code": code,
                       **stats_dict(st)}
            if hint is not None:
                summary["resume"] = hint
            self._json(summary)
            return
        if self.style == "bar":
            self._draw_bar(st)
            self.err.write("\n")
        word = {0: "finished", 1: "finished with failures", 130: "interrupted"}.get(code, "ended")
        self.err.write(f"job {self.job_id} {word}: {self._line(st)}\n")
        if resumable:
            self.err.write(f"resume with: {hint}\n" if hint is not None
                           else f"{resume_advice(self.job_id, self.db)}\n")
        self.err.flush()
