"""A call job's detail as the detail dialog shows it: read from the store, put into words.

Why a module of its own: the dialog (``dialogs/call_job.py``) re-reads the job while it has not
ended, in a thread; reading one job, its scheduler row (result or error and traceback), its
links, its group and the jobs it runs after is a handful of single-row queries that belong
with the words they turn into (no widget here, so it is tested without an app). The rest of the
store (the jobs that run after this one, deeper links of a dependency failure) comes from the
jobs screen's last read, which the dialog is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from textual.markup import escape

from ..errors import StoreError
from ..store import Store
from ..store.call_table import BoardRow, SchedRecord
from ..store.records import JobRecord, JobSummary
from . import format as fmt
from .jobs_board import Board, JobRow, call_input, group_label, priority_name, row_for
from .jobs_cells import EXEC_WORDS, STATE_STYLE, failure_text, took

__all__ = ["MAX_ARG", "MAX_SHOWN", "CallDetail", "detail_lines", "load_call_detail", "outcome_text"]

MAX_SHOWN = 200_000
"""Characters of a result or traceback shown (the rest is cut, and the dialog says so)."""
MAX_ARG = 2_000
"""Characters of each argument shown (the table and the line under it show 40)."""

_STYLE_VAR = {"ok": "$success", "bad": "$error", "run": "$accent", "warn": "$warning",
              "dim": "$text-muted"}


@dataclass(slots=True)
class CallDetail:
    """One call job, fresh from the store, and the board it is shown against."""

    board: Board
    row: JobRow
    sched: SchedRecord | None


def _summary(job: JobRecord) -> JobSummary:
    return JobSummary(job.id, job.created_at, job.updated_at, job.state, job.spec, job.name,
                      job.error, job.group_id)


def load_call_detail(store: Store, job_id: int, known: Board) -> CallDetail:
    """Read job ``job_id`` again (blocking: run it in a thread). StoreError once it is gone."""
    job = store.get_job(job_id)
    rec = store.get_sched(job_id)
    after, after_any = store.sched_links(job_id)
    group = store.get_group(job.group_id) if job.group_id is not None else None
    board_row = BoardRow(
        job_id, group, rec is not None, 1 if rec is None else rec.priority,
        None if rec is None else rec.reason, 0 if rec is None else rec.attempts,
        None if rec is None else rec.started_at, None if rec is None else rec.ended_at,
        tuple(after), tuple(after_any),
    )
    board = replace(known, by_id=dict(known.by_id), members=dict(known.members))
    row = row_for(store, _summary(job), board_row)
    board.by_id[job_id] = row
    if group is not None:
        board.members[group.id] = store.group_members(group.id)
    for dep in (*after, *after_any):
        try:
            dep_job = store.get_job(dep)
        except StoreError:
            board.by_id.pop(dep, None)  # deleted since
            continue
        old = known.by_id.get(dep)
        board.by_id[dep] = row_for(store, _summary(dep_job), None if old is None else old.board)
    return CallDetail(board, row, rec)


def _when(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "-"
    return f"{fmt.timestamp(epoch)} ({fmt.ago(epoch, now)})"


def _dep_list(board: Board, ids: tuple[int, ...] | list[int]) -> str:
    out = []
    for j in ids:
        d = board.by_id.get(j)
        if d is None:
            out.append(f"#{j} (deleted)")
            continue
        var = _STYLE_VAR.get(STATE_STYLE.get(d.state, ""), "")
        name = f" {escape(d.name)}" if d.name else ""
        state = f"[{var}]{d.state}[/]" if var else d.state
        out.append(f"#{j}{name} {state}")
    return ", ".join(out) or "-"


def detail_lines(detail: CallDetail, now: float) -> list[tuple[str, str]]:
    """``(label, markup)`` pairs: what the job calls, where it stands, how it went."""
    row, board, rec = detail.row, detail.board, detail.sched
    call = row.call
    func = call.get("func") or f"{call.get('qualname', '?')} (in-process, not importable)"
    exec_word = EXEC_WORDS.get(str(call.get("exec")), "thread")
    var = _STYLE_VAR.get(STATE_STYLE.get(row.state, ""), "")
    state = f"[b {var}]{row.state}[/]" if var else f"[b]{row.state}[/]"
    retries = int(call.get("retries") or 0)
    sched = row.board  # the jobs screen's read until the job's own rows are read
    attempts = rec.attempts if rec is not None else sched.attempts if sched else 0
    lines = [
        ("State", state + (f" · {escape(row.reason)}" if row.reason else "")),
        ("Function", f"{escape(str(func))} · runs in a {exec_word}"),
        ("Arguments", escape(call_input(call, limit=MAX_ARG))),
        ("Priority", priority_name(row.board.priority if row.board else 1)),
        ("Attempts", f"{attempts} of {retries + 1}"
         + (f" (backoff {call.get('backoff')} s)" if retries else "")),
    ]
    if call.get("timeout"):
        lines.append(("Timeout", f"{call['timeout']} s per attempt"))
    if row.group is not None:
        g = escape(group_label(row.group, short=False))
        place = board.place_in_group(row)
        if place is not None:
            g += f", job {place[0]} of {place[1]}"
        if row.group.cancel_on_failure:
            g += ", cancel on failure"
        if row.group.workers:
            g += f", at most {row.group.workers} at once"
        lines.append(("Group", g))
    else:
        lines.append(("Group", "-"))
    after = row.board.after if row.board else ()
    after_any = row.board.after_any if row.board else ()
    lines.append(("After", _dep_list(board, after)))
    lines.append(("After any", _dep_list(board, after_any)))
    needed = board.needed_by.get(row.id, [])
    if needed:
        lines.append(("Run after it", _dep_list(board, needed)))
    if row.state == "dependency failed":
        lines.append(("Why", f"[$error]{escape(failure_text(board, row))}[/]"))
    if row.held and row.pid is not None:
        lines.append(("Host", f"pid {row.pid} (its Batch is open)"))
    lines.append(("Created", _when(row.created_at, now)))
    started = rec.started_at if rec is not None else sched.started_at if sched else None
    ended = rec.ended_at if rec is not None else sched.ended_at if sched else None
    lines.append(("Started", _when(started, now)))
    if ended is not None:
        span = f" · took {took(ended - started)}" if started is not None else ""
        lines.append(("Ended", f"{_when(ended, now)}{span}"))
    elif started is not None and row.state == "running":
        lines.append(("Running for", took(max(0.0, now - started))))
    return lines


def _cut(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= MAX_SHOWN else (text[:MAX_SHOWN], True)


def outcome_text(detail: CallDetail) -> tuple[str, str, bool]:
    """``(title, plain text, cut)``: the result as indented JSON, or the error with its
    traceback, or what the job still waits for; ``cut`` when it was longer than shown."""
    rec, row = detail.sched, detail.row
    if rec is not None and rec.error_type:
        head = f"{rec.error_type}: {rec.error_message or ''}".rstrip(": ")
        tb = (rec.traceback or "").rstrip()
        body = head + ("\n\n" + tb if tb and tb.strip() != head else "")
        return ("Error", *_cut(body))
    if rec is not None and rec.result_kind == "json":
        try:
            pretty = json.dumps(json.loads(rec.result or "null"), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = rec.result or ""
        return ("Result (JSON)", *_cut(pretty))
    if rec is not None and rec.result_kind is not None:
        try:
            note = json.loads(rec.result or "{}")
        except ValueError:
            note = {}
        if not isinstance(note, dict):
            note = {}
        return ("Result", (
            f"a {note.get('type', 'value')}, not JSON-serialisable: it is kept in the memory "
            f"of the process that ran the job (pid {note.get('pid', '?')}) and is read there "
            "with job.result()"), False)
    if row.state == "done":
        return ("Result", "none stored", False)
    if row.error:
        return ("Error", row.error, False)
    return ("Result", f"not yet: the job is {row.state}", False)
