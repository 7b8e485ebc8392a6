"""The jobs screen's rows: file jobs and call jobs, their group, and what a waiting job waits for.

Why a module of its own (and Textual-free): the jobs list is read in a thread every few seconds
and may hold hundreds of jobs, so everything a row shows is read at once (the job list, then
:meth:`~tui_batch.store.Store.job_board_rows` for groups, priorities, reasons and dependency
links: two queries whatever the number of jobs) and derived here, once per reload, never per
painted row or per key press. The screen only paints :class:`JobRow` objects.

Liveness is also decided here. A job run by a ``tui-batch`` process holds its run lock; a job of
a :class:`~tui_batch.api.Batch` is held by its host's lock for as long as that host is open,
whatever its state, so "held" does not mean "running" there: a held call job shows the state
its host last wrote (queued, waiting, running, done...), and one whose host is gone shows what
a restart finds (``running`` becomes ``interrupted``; a job built from a lambda cannot be run
again and is interrupted too, with the reason saying why).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..jobs.states import DEPENDENCY_FAILED, DONE, FINAL_STATES, INTERRUPTED, RUNNING
from ..model import ActionSpec, Priority
from ..store import Store, effective_counts, effective_state, job_liveness
from ..store.call_table import BoardRow, GroupRecord
from ..store.records import JobSummary

__all__ = [
    "Board",
    "JobRow",
    "call_input",
    "group_label",
    "live_jobs",
    "load_board",
    "priority_name",
    "row_for",
    "waits_for",
]

CALL, FILES = "call", "files"
"""The two kinds of job a store holds."""

UNSTARTED = frozenset({"created", "queued", "waiting", "paused"})
"""States of a job in a scheduler that has not started yet."""

_WAITING_FOR = re.compile(r"waiting for job (\d+)")

LIVE_STATES = ("queued", "running", "done", "failed", "cancelled", "skipped")
"""The task states a control snapshot counts."""


def _text(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")


@dataclass(slots=True)
class JobRow:
    """One job as the jobs screen shows it (read in a thread, painted on the UI thread)."""

    job: JobSummary
    """The stored job, its ``state`` and ``counts`` as shown (liveness applied)."""
    kind: str
    """``call`` (a Python callable of a Batch) or ``files`` (a batch of files)."""
    board: BoardRow | None = None
    """Its group, priority, reason and links (None: a plain file job outside any Batch)."""
    held: bool = False
    """A live process holds the job (its run lock, or its Batch host's lock)."""
    pid: int | None = None
    """That process's pid, when known."""
    live: dict[str, Any] | None = None
    """A running file job's control-socket snapshot (:func:`live_snapshots`): its counts
    now, paused, workers; None when not running or not asked yet."""
    live_counts: dict[str, int] | None = None
    """Tasks per state from :attr:`live` (what the counts show while it runs)."""

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def state(self) -> str:
        return self.job.state

    @property
    def name(self) -> str | None:
        return self.job.name

    @property
    def spec(self) -> dict[str, Any]:
        return self.job.spec

    @property
    def counts(self) -> dict[str, int]:
        return self.live_counts if self.live_counts is not None else self.job.counts

    @property
    def paused(self) -> bool:
        """Running, and paused by a control (`tui-batch pause`, a dashboard's p)."""
        return bool(self.live and self.live.get("paused"))

    def set_live(self, snapshot: dict[str, Any] | None) -> None:
        """The job's latest control snapshot (None: drop it, its store counts show again)."""
        self.live = snapshot
        stats = (snapshot or {}).get("stats")
        if not isinstance(stats, dict):
            self.live_counts = None
            return
        self.live_counts = {k: int(stats.get(k) or 0) for k in LIVE_STATES}

    @property
    def total(self) -> int:
        return self.job.total

    @property
    def created_at(self) -> float:
        return self.job.created_at

    @property
    def error(self) -> str | None:
        return self.job.error

    @property
    def group(self) -> GroupRecord | None:
        return None if self.board is None else self.board.group

    @property
    def scheduled(self) -> bool:
        """The job is in a Batch's care (its state is the scheduler's to change)."""
        return self.board is not None and self.board.scheduled

    @property
    def call(self) -> dict[str, Any]:
        """The call part of a call job's spec (function, arguments, settings)."""
        call = self.spec.get("call") if self.kind == CALL else None
        return call if isinstance(call, dict) else {}

    @property
    def reason(self) -> str | None:
        """What a waiting job waits for, why it ended as it did, why it cannot run again."""
        if self.kind == CALL and self.state == INTERRUPTED and self.call.get("not_resumable"):
            return str(self.call["not_resumable"])
        if self.board is not None and self.board.reason:
            return self.board.reason
        return None

    @property
    def running(self) -> bool:
        """Runs right now (a delete would pull it from under its process)."""
        return self.state == RUNNING

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def resumable(self) -> bool:
        """Has work left that a resume would do (and no live process does it now)."""
        if self.held or self.final:
            return False
        if self.kind == CALL:
            return not self.call.get("not_resumable")
        c = self.counts
        tasks = c.get("queued", 0) + c.get("interrupted", 0) + c.get("running", 0)
        return tasks > 0 or (self.scheduled and self.state in UNSTARTED)

    def label(self) -> str:
        """The job's name (if any) and what it runs: the action, or the function called."""
        if self.kind == CALL:
            what = str((self.spec.get("action") or {}).get("name") or "?")
            qual = self.call.get("qualname")
            name = self.name if self.name and self.name != qual else None
            return _text(f"{name}: {what}" if name else what)
        try:
            what = ActionSpec(**(self.spec.get("action") or {})).label
        except TypeError:
            what = "?"
        return _text(f"{self.name}: {what}" if self.name else what)

    def roots(self) -> str:
        """A file job's roots as shown (``~`` for the home folder)."""
        roots = (self.spec.get("filter") or {}).get("roots") or []
        home = os.path.expanduser("~")
        shown = [("~" + r[len(home) :]) if r.startswith(home + os.sep) else r for r in roots]
        return _text(" ".join(shown))

    def input(self) -> str:
        """What the job works on: a file job's roots, a call job's arguments."""
        return call_input(self.call) if self.kind == CALL else self.roots()

    def haystack(self) -> str:
        """What ``/`` matches against: ``#id``, name, action or function, roots or
        arguments, state, kind, group and reason."""
        group = group_label(self.group) if self.group is not None else ""
        return (f"#{self.id} {self.label()} {self.input()} {self.state} {self.kind} {group} "
                f"{self.reason or ''}")


@dataclass(slots=True)
class Board:
    """Every job of the store as the jobs screen shows them, newest first."""

    rows: list[JobRow] = field(default_factory=list)
    by_id: dict[int, JobRow] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)
    """Group id -> its jobs, in submission order."""
    needed_by: dict[int, list[int]] = field(default_factory=dict)
    """Job id -> the jobs that run after it (``after`` or ``after_any``)."""

    def holders(self) -> dict[int, int | None]:
        """Jobs some live process holds, and its pid."""
        return {r.id: r.pid for r in self.rows if r.held}

    def place_in_group(self, row: JobRow) -> tuple[int, int] | None:
        """``(n, of)``: the job's place in its group's submission order."""
        if row.group is None:
            return None
        members = self.members.get(row.group.id, [])
        if row.id not in members:
            return None
        return members.index(row.id) + 1, len(members)

    def waiting_dependents(self, job_id: int) -> list[int]:
        """Jobs that have not ended and run after ``job_id``."""
        return [j for j in self.needed_by.get(job_id, [])
                if j in self.by_id and not self.by_id[j].final]

    def failure_chain(self, row: JobRow) -> list[JobRow]:
        """For a ``dependency failed`` job: the jobs it needed that did not end done, down to
        the one that really failed or was cancelled (dependency failures propagate)."""
        chain: list[JobRow] = []
        seen = {row.id}
        cur = row
        while cur.state == DEPENDENCY_FAILED and cur.board is not None:
            nxt = None
            for dep in cur.board.after:
                d = self.by_id.get(dep)
                if d is not None and d.final and d.state != DONE and d.id not in seen:
                    nxt = d
                    break
            if nxt is None:
                break
            chain.append(nxt)
            seen.add(nxt.id)
            cur = nxt
        return chain


def group_label(group: GroupRecord, short: bool = True) -> str:
    """``steps (seq)`` / ``steps (parallel)``; an unnamed group is ``group 3``."""
    name = _text(group.name) if group.name else f"group {group.id}"
    if short:
        return f"{name} ({'seq' if group.mode == 'sequential' else 'par'})"
    return f"{name} ({group.mode})"


def priority_name(value: int) -> str:
    """``normal`` for 1 (the number itself if it is no level)."""
    try:
        return Priority(value).name.lower()
    except ValueError:
        return str(value)


def call_input(call: dict[str, Any], limit: int = 40) -> str:
    """A call job's arguments as a call would be written: ``(1, "a", key=2)``, each one cut
    at ``limit`` characters."""
    if not call.get("func"):
        return "(in-process)"
    stored = call.get("args")
    if not isinstance(stored, dict):
        return "(arguments not stored)"
    parts = [_short_json(a, limit) for a in stored.get("args") or []]
    parts += [f"{k}={_short_json(v, limit)}" for k, v in (stored.get("kwargs") or {}).items()]
    return _text("(" + ", ".join(parts) + ")")


def _short_json(value: Any, limit: int) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def waits_for(row: JobRow) -> int | None:
    """The job a waiting job waits for, as its reason names it."""
    if row.state != "waiting" or not row.reason:
        return None
    m = _WAITING_FOR.match(row.reason)
    return int(m.group(1)) if m else None


def row_for(
    store: Store, job: JobSummary, board: BoardRow | None,
    hosts: dict[str, tuple[bool, int | None]] | None = None,
) -> JobRow:
    """One job as shown, its liveness probed now (one or two lock files, no query).
    ``hosts`` caches the liveness of Batch hosts by identity across the rows of one read: a
    call job has no run lock of its own, so its host's lock says it all."""
    spec = job.spec
    kind = CALL if spec.get("kind") == "call" else FILES
    host_spec = spec.get("host")
    identity = host_spec.get("identity") if isinstance(host_spec, dict) else None
    if kind == CALL and hosts is not None and isinstance(identity, str) and identity in hosts:
        held, pid = hosts[identity]
    else:
        held, pid = job_liveness(store, job.id, spec=spec, state=job.state)
        if kind == CALL and hosts is not None and isinstance(identity, str):
            hosts[identity] = (held, pid)
    host = identity is not None
    running = held
    if kind == CALL:
        if held:
            state = job.state  # its host is alive and writes the state itself
        else:
            state = effective_state(job.state, False)
            call = spec.get("call") or {}
            if call.get("not_resumable") and state not in FINAL_STATES:
                state = INTERRUPTED  # its host is gone and no process can find it again
        running = held and state == RUNNING
    elif host and held and board is not None and board.scheduled:
        # A file job a Batch took in after a restart: its host's lock says the host is alive,
        # only the job's own run lock says it runs.
        own, own_pid = job_liveness(store, job.id, spec={}, state=job.state)
        state = RUNNING if own else job.state
        running, pid = own, (own_pid if own else pid)
    else:
        state = effective_state(job.state, held)
    counts = effective_counts(job.counts, running)
    return JobRow(replace(job, state=state, counts=counts), kind, board, held, pid)


def load_board(store: Store) -> Board:
    """Every job with what the jobs screen shows of it (blocking: run it in a thread)."""
    jobs = store.list_jobs()
    boards = store.job_board_rows()
    out = Board()
    hosts: dict[str, tuple[bool, int | None]] = {}
    for job in jobs:
        row = row_for(store, job, boards.get(job.id), hosts)
        out.rows.append(row)
        out.by_id[row.id] = row
    for row in reversed(out.rows):  # oldest first: submission order
        b = row.board
        if b is None:
            continue
        if b.group is not None:
            out.members.setdefault(b.group.id, []).append(row.id)
        for dep in (*b.after, *b.after_any):
            out.needed_by.setdefault(dep, []).append(row.id)
    return out


def live_jobs(rows: Iterable[JobRow]) -> list[JobRow]:
    """The file jobs that run now (a live process holds them): those with a socket to ask."""
    return [r for r in rows if r.kind == FILES and r.held and r.state == RUNNING]
