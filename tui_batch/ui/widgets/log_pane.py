"""The selected task in detail: command, attempts, exit code, error and output tail.

While a task runs its output comes from ``engine.live_output`` (spool files the executor
writes); afterwards the attempts come from the store, which keeps every attempt's tails.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from textual.widgets import Static

from .task_list import task_state

TAIL_LINES = 12
"""Output lines shown per stream."""


def _safe(text: str) -> str:
    return escape(text.encode("utf-8", "replace").decode("utf-8"))


def _duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0.0, end - start)
    return "<0.1s" if seconds < 0.1 else f"{seconds:.1f}s"


def _tail(text: str, lines: int) -> list[str]:
    return text.rstrip("\n").splitlines()[-lines:] if text else []


class LogPane(Static):
    """Renders one task's details; the dashboard calls :meth:`show_task`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=True)
        self.task_id: int | None = None
        """Task shown (None = nothing selected)."""

    def show_task(
        self,
        task: Any,
        *,
        live: tuple[str, str] = ("", ""),
        attempts: Sequence[Any] = (),
        max_attempts: int | None = None,
    ) -> None:
        """Render ``task`` (an engine Task or a store TaskRecord)."""
        if task is None:
            self.task_id = None
            self.border_title = "Task"
            self.update("[dim]select a task to see its command, attempts and output[/]")
            return
        self.task_id = task.id
        state = task_state(task)
        path = (task.rel or task.path).encode("utf-8", "replace").decode("utf-8")
        self.border_title = f"Task #{task.id} · {path}"
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
        if task.error:
            lines.append("[b $error]error:[/] " + _safe(task.error.strip()))
        if task.reason and task.reason != task.error:
            lines.append("[dim]reason:[/] " + _safe(task.reason))
        for attempt in attempts:
            state = attempt.state
            if state in ("queued", "interrupted") and attempt.ended_at is not None:
                state = "failed, retried" if attempt.error or attempt.exit_code else "retried"
            detail = [f"#{attempt.n} {state}"]
            if attempt.exit_code is not None:
                detail.append(f"exit {attempt.exit_code}")
            if attempt.signal:
                detail.append(f"signal {attempt.signal}")
            duration = _duration(attempt.started_at, attempt.ended_at)
            if duration and getattr(self.app, "deterministic", False):
                # a measured time differs per run (snapshots): shown as the demo's usual one
                duration = "<0.1s"
            if duration:
                detail.append(duration)
            if attempt.error:
                detail.append(_safe(attempt.error.strip().splitlines()[-1]))
            lines.append("[dim]attempt[/] " + " · ".join(detail))
        out, err = live
        if not out and not err and attempts:
            last = attempts[-1]
            out, err = last.stdout_tail or "", last.stderr_tail or ""
        if not out and not err:
            out = getattr(task, "stdout_tail", "") or ""
            err = getattr(task, "stderr_tail", "") or ""
        for label, text in (("stdout", out), ("stderr", err)):
            tail = _tail(text, TAIL_LINES)
            if tail:
                lines.append(f"[dim]── {label}{' (live)' if state == 'running' else ''} ──[/]")
                lines.extend(_safe(line) for line in tail)
        self.update("\n".join(lines))
