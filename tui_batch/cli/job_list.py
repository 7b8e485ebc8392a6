"""`tui-batch jobs`: the table (80 columns) and the ``--json`` lines of every job in a store.

Why a module of its own: the list shows two kinds of job side by side, file jobs (a filter,
an action, task counts) and Python call jobs (a function, its group and dependencies, no
tasks), each as it really is: a job whose process died reads interrupted, a job waiting in a
live process reads waiting (not running). Everything comes from three reads whatever the
number of jobs (the jobs with their task counts, the scheduler's rows and links, and one lock
probe per job, or per host for the call jobs a Batch holds).

The table: ``ID  CREATED  STATE  TASKS  NAME / ACTION / ROOTS``. CREATED is ``ls``-style (the
time today, the day this year, else the year; ``jobs JOB`` has the full date); TASKS is
``done/total`` for a file job and ``call`` for a call job; the last column is the job's name
(when it says more than its action), its action or function, its roots, its group and the
jobs it runs after. Below the table, one line per job that needs a word: what it waits for,
why it did not run, how to resume it, which process runs it. On a terminal each row is cut
to its width; in a pipe rows are whole.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from ..jobs import resume_command
from ..jobs.deps import not_resumable, shown_state
from ..jobs.states import (
    DEPENDENCY_FAILED,
    FINAL_STATES,
    INTERRUPTED,
    PAUSED,
    QUEUED,
    RUNNING,
    WAITING,
)
from ..model import ActionSpec, Priority
from ..store import JobSummary, Store, effective_counts, job_liveness, tasks_left
from ..store.call_table import BoardRow, GroupRecord
from .progress import display_path

__all__ = ["NOTES_SHOWN", "ListedJob", "ended_while", "group_dict", "group_label", "list_rows",
           "print_jobs"]

_HELD = (QUEUED, WAITING, PAUSED)


def group_dict(g: GroupRecord | None) -> dict[str, Any] | None:
    """A group as JSON: id, name, sequential, cancel_on_failure, workers."""
    if g is None:
        return None
    return {"id": g.id, "name": g.name, "sequential": g.mode == "sequential",
            "cancel_on_failure": g.cancel_on_failure, "workers": g.workers}


def group_label(g: GroupRecord) -> str:
    return f"group {g.name}" if g.name else f"group {g.id}"


@dataclass(slots=True)
class ListedJob:
    """One job as the list shows it."""

    job: JobSummary
    kind: str
    state: str
    counts: dict[str, int]
    left: int
    pid: int | None
    live: bool
    board: BoardRow | None
    reason: str | None
    resume: str | None

    def to_json(self) -> dict[str, Any]:
        j, b = self.job, self.board
        return {
            "id": j.id, "kind": self.kind, "state": self.state, "reason": self.reason,
            "created_at": j.created_at, "updated_at": j.updated_at, "name": j.name,
            "total": j.total, "counts": self.counts, "left": self.left, "pid": self.pid,
            "resume": self.resume,
            "roots": (j.spec.get("filter") or {}).get("roots"),
            "action": ActionSpec.from_dict(j.spec.get("action") or {}).label,
            "func": (j.spec.get("call") or {}).get("func") if self.kind == "call" else None,
            "group": group_dict(b.group if b is not None else None),
            "after": list(b.after) if b is not None else [],
            "after_any": list(b.after_any) if b is not None else [],
            "priority": Priority(b.priority).name.lower() if b and b.scheduled else None,
        }


def ended_while(stored: str, reason: str | None) -> str:
    """Why a job reads interrupted though its stored state is not: its process is gone."""
    if stored == RUNNING:
        return "its process ended while it ran"
    return f"its process ended while {reason}" if reason else \
        f"its process ended while it was {stored}"


def _reason(state: str, stored: str, spec: dict[str, Any], board: BoardRow | None,
            error: str | None) -> str | None:
    stored_reason = board.reason if board is not None else None
    if state == INTERRUPTED and stored != INTERRUPTED:
        why = not_resumable(spec)
        if why is not None:
            return why
        return ended_while(stored, stored_reason)
    if stored_reason is not None:
        return stored_reason
    return error if state in (DEPENDENCY_FAILED, INTERRUPTED) and board is not None else None


def list_rows(store: Store, jobs: Sequence[JobSummary]) -> list[ListedJob]:
    """The jobs as shown (state, counts, reason, resume hint), from one read of the
    scheduler's rows and one liveness probe per job (per host for call jobs)."""
    boards = store.job_board_rows()
    by_host: dict[str, tuple[bool, int | None]] = {}
    out = []
    for j in jobs:
        kind = "call" if j.spec.get("kind") == "call" else "files"
        identity = (j.spec.get("host") or {}).get("identity") if kind == "call" else None
        if isinstance(identity, str) and identity in by_host:
            live, pid = by_host[identity]
        else:
            live, pid = job_liveness(store, j.id, spec=j.spec, state=j.state)
            if isinstance(identity, str):
                by_host[identity] = (live, pid)
        board = boards.get(j.id)
        state = shown_state(j.spec, j.state, live)
        counts = effective_counts(j.counts, live)
        left = tasks_left(counts)
        if kind == "call":
            resumable = state not in FINAL_STATES and not live and not not_resumable(j.spec)
        else:
            resumable = bool(left) and not live and state != DEPENDENCY_FAILED
        hint = resume_command(j.id, store.path) if resumable else None
        reason = _reason(state, j.state, j.spec, board, j.error)
        out.append(ListedJob(j, kind, state, counts, left, pid if live else None, live, board,
                             reason, hint))
    return out


def _created(t: float, now: dt.datetime) -> str:
    when = dt.datetime.fromtimestamp(t)
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if when.year == now.year:
        return when.strftime("%b %d")
    return str(when.year)


def _count(n: int) -> str:
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M".replace(".0M", "M")


def _what(r: ListedJob) -> str:
    j, b = r.job, r.board
    label = ActionSpec.from_dict(j.spec.get("action") or {}).label
    parts = []
    if j.name and not (r.kind == "call" and (label == j.name or label.endswith(f":{j.name}")
                                             or label.startswith(f"{j.name} "))):
        parts.append(j.name)
    parts.append(label)
    if r.kind == "files":
        roots = " ".join(display_path(x) for x in (j.spec.get("filter") or {}).get("roots") or [])
        parts.append(f"[{roots}]")
    if b is not None and b.group is not None:
        parts.append(group_label(b.group))
    if b is not None and b.after:
        parts.append("after " + ",".join(map(str, b.after)))
    if b is not None and b.after_any:
        parts.append("after any " + ",".join(map(str, b.after_any)))
    return "  ".join(parts)


def _notes(r: ListedJob) -> str | None:
    jid, state = r.job.id, r.state
    where = f" (in process {r.pid})" if r.pid else ""
    if r.live:
        if state == RUNNING:
            return f"job {jid} is running in process {r.pid}" if r.pid else None
        if state == WAITING and r.reason:
            return f"job {jid} {r.reason}{where}"
        return None
    if r.resume is not None:
        left = f", {r.left:,} left" if r.kind == "files" else ""
        why = f" ({r.reason})" if r.reason and r.kind == "call" else ""
        return f"job {jid} {state}{left}{why}: {r.resume}"
    if r.reason and (state in (DEPENDENCY_FAILED, WAITING, INTERRUPTED)):
        return f"job {jid} {state}: {r.reason}"
    return None


NOTES_SHOWN = 30
"""Lines below the table at most (a Batch may hold thousands of jobs; --json has all)."""


def print_jobs(rows: Sequence[ListedJob], as_json: bool) -> None:
    """The table and its notes, or one JSON object per job."""
    if as_json:
        for r in rows:
            click.echo(json.dumps(r.to_json()))
        return
    if not rows:
        click.echo("no jobs yet (tui-batch run ... creates one)")
        return
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 0
    now = dt.datetime.now()

    def emit(line: str) -> None:
        if width and len(line) > width:
            line = line[: max(1, width - 1)] + "…"
        click.echo(line)

    emit(f"{'ID':>5}  {'CREATED':7}  {'STATE':11}  {'TASKS':>9}  NAME / ACTION / ROOTS")
    for r in rows:
        c = r.counts
        tasks = "call" if r.kind == "call" else f"{_count(c.get('done', 0))}/{_count(r.job.total)}"
        state = "dep. failed" if r.state == DEPENDENCY_FAILED else r.state
        emit(f"{r.job.id:>5}  {_created(r.job.created_at, now):7}  {state:11}  {tasks:>9}  "
             f"{_what(r)}")
    notes = [n for n in map(_notes, rows) if n]
    for note in notes[:NOTES_SHOWN]:
        click.echo(note)
    if len(notes) > NOTES_SHOWN:
        click.echo(f"... and {len(notes) - NOTES_SHOWN:,} more (tui-batch jobs JOB, or --json)")
