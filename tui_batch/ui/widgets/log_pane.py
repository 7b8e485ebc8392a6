"""The selected task in detail: state, command, error, attempts, then its whole output.

A scrollable, focusable view (:class:`~.log_text.LogText`): Tab or a click gives it the focus,
arrows, PgUp/PgDn and Home/End scroll it. Below the task's state come its last attempt's
stderr, then its stdout: in a pane a few rows high the diagnostics of a failed task must be
the first thing seen, not 10,000 lines of stdout away. What fills it (the store's output, a
running task's output as it grows) is :class:`~.task_log.TaskLog`'s to decide.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.style import Style
from rich.text import Text

from .log_lines import LogDocument, Section, StreamLines
from .log_text import LogText, Placement
from .task_list import task_state
from .task_output import attempt_state, stream_section

HINT = "Enter full log · z taller"
"""The pane's bottom border: the keys that show more."""


def _safe(text: str) -> str:
    return escape(text.encode("utf-8", "replace").decode("utf-8"))


def _duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0.0, end - start)
    return "<0.1s" if seconds < 0.1 else f"{seconds:.1f}s"


def header_lines(
    task: Any,
    attempts: Sequence[Any],
    max_attempts: int | None,
    deterministic: bool,
    error_style: Style | str = "red",
) -> list[Text]:
    """The task's state line, command, error and reason; its attempts when it had several."""
    state = task_state(task)
    tries = f"{task.attempts}" + (f"/{max_attempts}" if max_attempts else "")
    head = [f"[b]{state}[/]", f"attempt {tries}"]
    if task.exit_code is not None:
        head.append(f"exit {task.exit_code}")
    if getattr(task, "signal", None):
        head.append(f"signal {task.signal}")
    lines = ["  ".join(head)]
    command = getattr(task, "command", None)
    if command:
        lines.append("[b]$[/] " + _safe(shlex.join(command)))
    if task.error and task.error.strip() != f"exit code {task.exit_code}":  # said above
        lines.append("[b]error:[/] " + _safe(task.error.strip()))
    if task.reason and task.reason != task.error:
        lines.append("[dim]reason:[/] " + _safe(task.reason))
    if len(attempts) > 1:
        for attempt in attempts:
            detail = [f"#{attempt.n} {attempt_state(attempt)}"]
            if attempt.exit_code is not None:
                detail.append(f"exit {attempt.exit_code}")
            if attempt.signal:
                detail.append(f"signal {attempt.signal}")
            duration = _duration(attempt.started_at, attempt.ended_at)
            if duration and deterministic:
                duration = "<0.1s"  # a measured time differs per run (snapshots)
            if duration:
                detail.append(duration)
            if attempt.error:
                detail.append(_safe(attempt.error.strip().splitlines()[-1]))
            lines.append("[dim]attempt[/] " + " · ".join(detail))
    texts = [Text.from_markup(line) for line in lines]
    for text in texts:
        if text.plain.startswith("error: "):
            text.stylize(error_style, 0, 6)
    return texts


def tail_sections(task: Any, attempts: Sequence[Any]) -> list[Section]:
    """Output from what is at hand at once (the 4 KiB tails the engine and the attempt rows
    keep), until the whole output is read."""
    out = err = ""
    if attempts:
        out, err = attempts[-1].stdout_tail or "", attempts[-1].stderr_tail or ""
    if not out and not err:
        out = getattr(task, "stdout_tail", "") or ""
        err = getattr(task, "stderr_tail", "") or ""
    sections = []
    for name, text in (("stderr", err), ("stdout", out)):
        if text:
            lines = StreamLines(text.encode("utf-8", "surrogateescape"))
            sections.append(stream_section(name, lines, total=lines.size))
    return sections


class LogPane(LogText):
    """Renders one task's details and output; the dashboard calls :meth:`show_task`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.task_id: int | None = None
        """Task shown (None = nothing selected)."""
        self.border_subtitle = HINT

    def show_task(
        self,
        task: Any,
        *,
        attempts: Sequence[Any] = (),
        max_attempts: int | None = None,
        streams: Sequence[Section] | None = None,
        at: Placement | None = None,
    ) -> None:
        """Render ``task`` (an engine Task or a store TaskRecord) with the output sections
        ``streams`` (None: the tails at hand). The view goes to the top for another task,
        else stays where it is (at the end if it was there: a running task's output grows)."""
        if task is None:
            self.task_id = None
            self.border_title = "Task"
            hint = Text("select a task to see its command, attempts and output", style="dim")
            self.set_document(LogDocument([Section("info", [hint])]))
            return
        if at is None:
            at = "follow" if task.id == self.task_id else "top"
        self.task_id = task.id
        path = (task.rel or task.path).encode("utf-8", "replace").decode("utf-8")
        self.border_title = f"Task #{task.id} · {path}"
        deterministic = bool(getattr(self.app, "deterministic", False))
        error_style = self.get_component_rich_style("log-text--err", partial=True)
        lines = header_lines(task, attempts, max_attempts, deterministic, error_style)
        info = Section("info", lines)
        info.width = max((t.cell_len for t in info.lines), default=0)
        if streams is None:
            streams = tail_sections(task, attempts)
        shown = [s for s in streams if s.lines or s.note or s.lead]
        if not shown and task_state(task) in ("running", "done", "failed", "cancelled"):
            quiet = "no output yet" if task_state(task) == "running" else "no output"
            shown = [Section("info", [Text(quiet, style="dim")])]
        self.set_document(LogDocument([info, *shown]), at=at)
