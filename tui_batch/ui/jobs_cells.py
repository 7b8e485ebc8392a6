"""What the jobs screen paints of a :class:`~tui_batch.ui.jobs_board.JobRow`: its cells, and
the two lines under the table that say more about the highlighted job.

Why a module of its own: the screen (``screens/jobs.py``) holds the keys and the reloading;
the words a job is shown with (its kind, its group, what a waiting job waits for, which job a
``dependency failed`` one needed) are plain functions of the rows read, tested without an app.
At 80 columns the table keeps the job, its state (``waiting for #6``), kind, action or function,
group and counts; from 100 columns it adds when it was created and its roots or arguments.
"""

from __future__ import annotations

from typing import Literal

from textual.markup import escape

from ..jobs.states import DEPENDENCY_FAILED, INTERRUPTED, RUNNING, WAITING
from . import format as fmt
from .jobs_board import CALL, Board, JobRow, group_label, priority_name, waits_for
from .run_lock import describe_runner
from .widgets.virtual_table import Cell, Column

Severity = Literal["information", "warning", "error"]

__all__ = ["COLUMNS", "STATE_STYLE", "detail_markup", "held_notice", "job_cell", "live_text",
           "resume_elsewhere_notice", "took"]

STATE_STYLE = {
    "done": "ok",
    "failed": "bad",
    "dependency failed": "bad",
    "running": "run",
    "interrupted": "warn",
    "cancelled": "warn",
    "paused": "warn",
    "created": "dim",
    "queued": "dim",
    "waiting": "dim",
}

COLUMNS = [
    Column("id", "Job", 5, align="right"),
    Column("created", "Created", 14, hide_below=100),
    Column("state", "State", 17),
    Column("kind", "Kind", 5),
    Column("action", "Action", 0, min_width=10, weight=3),
    Column("input", "Roots / args", 0, min_width=10, keep_tail=True, hide_below=100, weight=2),
    Column("group", "Group", 0, min_width=10, weight=2),
    Column("counts", "Done/Fail/Total", 15, align="right", hide_below=72),
]

EXEC_WORDS = {"io": "thread", "cpu": "process", "async": "coroutine"}
"""How each call-job kind runs, as the detail says it."""


def job_cell(row: JobRow, key: str, now: float | None = None) -> Cell:
    """The text (and style) of one cell."""
    if key == "id":
        return str(row.id)
    if key == "created":
        return fmt.timestamp(row.created_at) if now is None else fmt.ago(row.created_at, now)
    if key == "state":
        text = row.state
        waited = waits_for(row)
        if waited is not None:
            text = f"waiting for #{waited}"
        if row.resumable():  # ↺: work left that a resume would do
            text += " ↺"
        if row.paused:  # said by its control socket: it runs, and starts nothing new
            return ("running · paused", STATE_STYLE["paused"])
        return (text, STATE_STYLE.get(row.state, ""))
    if key == "kind":
        return (row.kind, "accent" if row.kind == CALL else "dim")
    if key == "action":
        return row.label()
    if key == "input":
        return row.input()
    if key == "group":
        return group_label(row.group) if row.group is not None else ""
    if key == "counts":
        if row.kind == CALL:
            return ""
        c = row.counts
        return f"{c.get('done', 0):,}/{c.get('failed', 0):,}/{row.total:,}"
    return ""


def live_text(snapshot: dict[str, object]) -> str:
    """What a running job's control snapshot adds: ``paused · 4 workers · 12 files/s``."""
    stats = snapshot.get("stats")
    stats = stats if isinstance(stats, dict) else {}
    workers = snapshot.get("workers")
    parts = ["paused"] if snapshot.get("paused") else []
    if isinstance(workers, int):
        parts.append(f"{workers} worker{'s' if workers != 1 else ''}")
    rate = stats.get("files_per_s")
    if isinstance(rate, int | float) and not snapshot.get("paused"):
        parts.append(fmt.rate(float(rate), "files"))
    parts.append("Enter shows it live")
    return " · ".join(parts)


def took(seconds: float | None) -> str:
    """``12 ms``, ``3.4 s``, ``0:02:05``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return fmt.clock_duration(seconds)


def _links(board: Board, row: JobRow) -> str:
    """``after #5 done, #6 waiting · after any #3 failed``."""
    if row.board is None:
        return ""

    def states(ids: tuple[int, ...]) -> str:
        return ", ".join(
            f"#{j} {board.by_id[j].state}" if j in board.by_id else f"#{j} (deleted)"
            for j in ids
        )

    parts = []
    if row.board.after:
        parts.append("after " + states(row.board.after))
    if row.board.after_any:
        parts.append("after any " + states(row.board.after_any))
    return " · ".join(parts)


def _ended_how(row: JobRow) -> str:
    return {"failed": "failed", "cancelled": "was cancelled",
            DEPENDENCY_FAILED: "could not run"}.get(row.state, row.state)


def failure_text(board: Board, row: JobRow) -> str:
    """Why a ``dependency failed`` job never ran, down to the job that failed:
    ``job 5 could not run ← job 4 (sqrt) failed: ValueError: math domain error``."""
    chain = board.failure_chain(row)
    if not chain:
        return row.reason or "a job it runs after failed"
    steps = [f"job {d.id} ({d.name})" if d.name else f"job {d.id}" for d in chain]
    text = " ← ".join(f"{s} {_ended_how(d)}" for s, d in zip(steps, chain, strict=True))
    last = chain[-1]
    return text + (f": {last.error}" if last.error and last.state != DEPENDENCY_FAILED else "")


def _facts(board: Board, row: JobRow, now: float) -> list[str]:
    parts = []
    if row.kind == CALL:
        what = row.call.get("func") or f"{row.call.get('qualname', '?')} (in-process)"
        parts.append(f"{what}{row.input()}")
        parts.append(f"call, {EXEC_WORDS.get(str(row.call.get('exec')), 'thread')}")
    else:
        flt = row.spec.get("filter") or {}
        counts = "  ".join(f"{k} {v:,}" for k, v in row.counts.items() if v)
        parts += [row.roots() or "no roots", " ".join(flt.get("extensions") or []) or "all types",
                  counts or "no tasks"]
    if row.group is not None:
        g = f"group {group_label(row.group, short=False)}"
        place = board.place_in_group(row)
        if place is not None:
            g += f", {place[0]} of {place[1]}"
        if row.group.cancel_on_failure:
            g += ", cancel on failure"
        parts.append(g)
    if row.board is not None and row.board.scheduled and row.board.priority != 1:
        parts.append(f"priority {priority_name(row.board.priority)}")
    parts.append(f"created {fmt.ago(row.created_at, now)}")
    return parts


def _status(board: Board, row: JobRow) -> str:
    """The second line: running where, waiting for what, failed how; the links' states."""
    parts = []
    if row.held and row.state == RUNNING:
        parts.append(f"[b $accent]running in {escape(describe_runner(row.pid))}[/]")
        if row.live is not None:
            parts.append(escape(live_text(row.live)))
    elif row.held and row.kind == CALL and not row.final:
        parts.append(f"[$accent]in its Batch, {escape(describe_runner(row.pid))}[/]")
    if row.state == DEPENDENCY_FAILED:
        parts.append(f"[b $error]dependency failed: {escape(failure_text(board, row))}[/]")
    elif row.reason and (row.state == WAITING or (row.state == INTERRUPTED and row.kind == CALL)):
        parts.append(f"[$warning]{escape(row.reason)}[/]")
    elif row.error and row.state != RUNNING:
        parts.append(f"[b $error]{escape(row.error)}[/]")
    elif row.reason and row.state not in (RUNNING, "done"):
        parts.append(escape(row.reason))
    if row.resumable() and row.kind == CALL:
        parts.append(f"its Batch has ended: tui-batch resume {row.id}")
    links = _links(board, row)
    if links:
        parts.append(escape(links))
    return " · ".join(parts)


def detail_markup(board: Board, row: JobRow | None, now: float) -> str:
    """The two lines under the table for the highlighted job ("" for none)."""
    if row is None:
        return ""
    first = f"[b]#{row.id}[/] " + escape(" · ".join(_facts(board, row, now)))
    status = _status(board, row)
    return first + ("\n" + status if status else "")


def held_notice(job: JobRow, doing: str) -> tuple[str, str]:
    """What the jobs screen says when another process holds ``job`` and it cannot be
    ``doing`` ("opened", "resumed", "deleted") here: ``(text, title)``."""
    where = describe_runner(job.pid)
    if job.running or (job.kind != CALL and not job.scheduled):
        text = f"Job {job.id} is running in {where}: it cannot be {doing} until that run ends."
        if job.kind != CALL and doing != "opened":
            text += " Enter shows it live."
        return text, "Job is running"
    return (f"Job {job.id} belongs to a Batch that is open in {where}: it cannot be "
            f"{doing} here until that Batch is closed.", "Job is in a Batch")


def resume_elsewhere_notice(job: JobRow) -> tuple[str, str, Severity]:
    """Why `r` does not resume ``job`` here (a call job, a file job in a Batch's queue):
    ``(text, title, severity)``."""
    what = "a Python call job" if job.kind == CALL else "a file job in a Batch's queue"
    how = (f"resume it from its host (Batch.resume_unfinished) or with "
           f"`tui-batch resume {job.id}`.")
    if job.held:
        return (f"Job {job.id} is {what}, run by its Batch in {describe_runner(job.pid)}; "
                f"once that has ended, {how}", "Not resumed here", "information")
    if job.kind == CALL and job.call.get("not_resumable"):
        return (f"Job {job.id} is a Python call job that cannot run again: "
                f"{job.call['not_resumable']}.", "Not resumable", "warning")
    return f"Job {job.id} is {what}: {how}", "Not resumed here", "information"
