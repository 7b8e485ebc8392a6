"""`tui-batch jobs JOB` of a Python call job: what it calls, where it stands, what it returned.

Why a module of its own: a call job has no filter, no tasks and no logs; what a person asks of
it is which function with which arguments, its priority and group, the jobs it waits for and
how each of those stands, its attempts and timings, and then its result (JSON) or its error
(type, message and the traceback text). A result that was not JSON-serialisable was kept only
in the memory of the process that ran it, and this says so. Read-only, like the list; the
same facts as one JSON object with ``--json``. Shared with file jobs: the scheduler part
(name, group, after / after_any with their states, reason), :func:`sched_part`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import click

from ..jobs import resume_command
from ..jobs.deps import dep_states, not_resumable, shown_state
from ..jobs.states import DONE, FINAL_STATES, INTERRUPTED
from ..model import Priority
from ..store import JobRecord, Store
from .job_list import ended_while, group_dict
from .progress import fmt_duration

__all__ = ["call_info", "sched_lines", "sched_part", "show_call"]

ARGS_SHOWN = 300
"""Characters of the arguments shown as text (``--json`` has them all)."""
RESULT_SHOWN = 2000
"""Characters of a result shown as text."""


def _when(t: float | None) -> str:
    return "-" if t is None else dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters; --json has all)"


def sched_part(store: Store, job: JobRecord) -> dict[str, Any]:
    """The scheduler's side of any job: group, links with their states, priority, reason."""
    rec = store.get_sched(job.id)
    after, after_any = store.sched_links(job.id)
    group = store.get_group(job.group_id) if job.group_id is not None else None
    states = dep_states(store, (*after, *after_any)) if after or after_any else {}
    return {
        "group": group_dict(group),
        "after": after, "after_any": after_any,
        "dep_states": {str(d): s[0] for d, s in states.items()},
        "priority": Priority(rec.priority).name.lower() if rec is not None else None,
        "reason": rec.reason if rec is not None else None,
    }


def sched_lines(info: dict[str, Any]) -> list[str]:
    """The text lines of :func:`sched_part` that have something to say."""
    lines = []
    g = info.get("group")
    if g:
        label = repr(g["name"]) if g["name"] else str(g["id"])
        bits = ["sequential (one job at a time, in order)" if g["sequential"] else "parallel"]
        if g["workers"]:
            bits.append(f"at most {g['workers']} at once")
        if g["cancel_on_failure"]:
            bits.append("a failure cancels the rest")
        lines.append(f"  group     {label}: {', '.join(bits)}")
    states = info.get("dep_states") or {}
    for key, word in (("after", "after"), ("after_any", "after any")):
        deps = info.get(key) or []
        if deps:
            shown = ", ".join(f"job {d} ({states.get(str(d), '?')})" for d in deps)
            lines.append(f"  {word:9} {shown}")
    return lines


def call_info(store: Store, job: JobRecord, running: bool, pid: int | None) -> dict[str, Any]:
    """Everything `jobs JOB` shows of a call job, as one JSON-ready dict."""
    call: dict[str, Any] = job.spec.get("call") or {}
    rec = store.get_sched(job.id)
    state = shown_state(job.spec, job.state, running)
    sched = sched_part(store, job)
    why = not_resumable(job.spec)
    reason = sched["reason"]
    if state == INTERRUPTED and why is not None:
        reason = why
    elif state == INTERRUPTED and job.state != INTERRUPTED:
        reason = ended_while(job.state, reason)
    stored = call.get("args")
    started = rec.started_at if rec is not None else None
    ended = rec.ended_at if rec is not None and state in FINAL_STATES else None
    end = ended if ended is not None else (time.time() if state == "running" else None)
    elapsed = None if started is None or end is None else max(0.0, end - started)
    kind = rec.result_kind if rec is not None else None
    result: Any = None
    note: dict[str, Any] | None = None
    if rec is not None and kind == "json":
        result = json.loads(rec.result or "null")
    elif rec is not None and kind == "memory":
        note = json.loads(rec.result or "{}")
    error = None
    if rec is not None and rec.error_type and state != DONE:
        error = {"type": rec.error_type, "message": rec.error_message or "",
                 "traceback": rec.traceback or ""}
    resumable = state not in FINAL_STATES and not running and why is None
    return {
        "id": job.id, "kind": "call", "name": job.name, "state": state, "pid": pid,
        "func": call.get("func"), "qualname": call.get("qualname"),
        "exec": call.get("exec"),
        "args": stored.get("args") if isinstance(stored, dict) else None,
        "kwargs": stored.get("kwargs") if isinstance(stored, dict) else None,
        "args_stored": isinstance(stored, dict),
        "retries": call.get("retries") or 0, "backoff": call.get("backoff"),
        "timeout": call.get("timeout"), **sched,
        "reason": reason,
        "attempts": rec.attempts if rec is not None else 0,
        "created_at": job.created_at, "updated_at": job.updated_at,
        "started_at": started, "ended_at": ended, "elapsed": elapsed,
        "result": result, "result_kind": kind,
        "result_note": None if note is None else (
            f"a {note.get('type', 'value')}, not JSON-serialisable: kept only in the process "
            f"that ran it (pid {note.get('pid', '?')})"),
        "error": error, "resumable": why is None,
        "resume": resume_command(job.id, store.path) if resumable else None,
    }


def show_call(info: dict[str, Any]) -> None:
    """Print :func:`call_info` as text."""
    echo = click.echo
    name = f"  {info['name']}" if info["name"] else ""
    state = info["state"] + (f" (in process {info['pid']})" if info["pid"] else "")
    echo(f"job {info['id']}{name}: {state}")
    if info["reason"]:
        echo(f"  reason    {info['reason']}")
    echo(f"  kind      call ({info['exec'] or 'io'}): "
         f"{info['func'] or (info['qualname'] or '?') + ' (in-process only)'}")
    if info["args_stored"]:
        args = json.dumps(info["args"])
        kwargs = json.dumps(info["kwargs"])
        echo(f"  args      {_short(args, ARGS_SHOWN)}")
        if info["kwargs"]:
            echo(f"  kwargs    {_short(kwargs, ARGS_SHOWN)}")
    else:
        echo("  args      not stored (not JSON, or an in-process function)")
    bits = [f"priority {info['priority'] or 'normal'}"]
    if info["retries"]:
        bits.append(f"retries {info['retries']} (backoff {info['backoff']:g}s)")
    if info["timeout"] is not None:
        bits.append(f"timeout {info['timeout']:g}s")
    echo(f"  settings  {', '.join(bits)}")
    for line in sched_lines(info):
        echo(line)
    echo(f"  attempts  {info['attempts']}")
    echo(f"  created   {_when(info['created_at'])}")
    echo(f"  started   {_when(info['started_at'])}")
    if info["ended_at"] is not None:
        echo(f"  ended     {_when(info['ended_at'])}")
    if info["elapsed"] is not None:
        echo(f"  elapsed   {fmt_duration(info['elapsed'])}")
    if info["resume"]:
        echo(f"  resume    {info['resume']}")
    if info["result_kind"] == "json":
        echo(f"result:\n  {_short(json.dumps(info['result']), RESULT_SHOWN)}")
    elif info["result_kind"] == "memory":
        echo(f"result:\n  {info['result_note']}")
    err = info["error"]
    if err:
        head = f"{err['type']}: {err['message']}" if err["message"] else err["type"]
        echo(f"error:\n  {head}")
        tb = err["traceback"].rstrip("\n")
        if tb and tb != head:
            for line in tb.splitlines():
                echo(f"  {line}")
