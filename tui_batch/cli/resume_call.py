"""`tui-batch resume JOB` of a Python call job (one submitted with ``Batch.submit_call``).

Why a module of its own: a call job is not a batch of file tasks; resuming it means finding
its function again by its ``"module:function"`` reference, calling it with its stored JSON
arguments, and printing what it returned. This process becomes the job's host for that one
job (a :class:`~tui_batch.scheduler.Host` on a thread, the scheduler's own restore rules via
:func:`~tui_batch.scheduler.resume_job`): its group's order and its dependencies hold (it
waits for them through the store, whichever process runs them), a done job is never run
again, and a job built from a lambda or a closure cannot be resumed by anyone (exit 2, with
the reason "not resumable: not an importable function"). The result goes to stdout as JSON
(with ``--json``: one summary object); messages go to stderr. There is no dashboard for a
call job: it resumes headless even on a terminal.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

from ..jobs import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, resume_advice
from ..jobs.deps import not_resumable, shown_state
from ..jobs.states import DONE, FINAL_STATES, INTERRUPTED, WAITING
from ..scheduler import Host, resume_job
from ..store import JobRecord, Store, job_liveness
from .options import fail

__all__ = ["resume_call_job"]

_GRACE = 0.0
"""Seconds a running attempt gets after Ctrl-C: none (it is marked interrupted, resumable)."""


def _say(text: str) -> None:
    print(f"tui-batch: {text}", file=sys.stderr, flush=True)


def _label(job: JobRecord) -> str:
    call = job.spec.get("call") or {}
    name = f" {job.name}" if job.name else ""
    return f"job {job.id}{name} ({call.get('func') or call.get('qualname') or 'a function'})"


def _summary(job_id: int, state: str, code: int, **more: Any) -> None:
    print(json.dumps({"event": "summary", "job": job_id, "state": state, "exit_code": code,
                      **more}), flush=True)


def _stored_outcome(store: Store, job: JobRecord, as_json: bool) -> int:
    """A job that has ended: say how, print a kept result; nothing runs again."""
    rec = store.get_sched(job.id)
    state = job.state
    code = EXIT_OK if state == DONE else EXIT_FAILED
    result: Any = None
    kind = None if rec is None else rec.result_kind
    if kind == "json" and rec is not None:
        result = json.loads(rec.result or "null")
    error = None
    if state != DONE and rec is not None and rec.error_type:
        error = {"type": rec.error_type, "message": rec.error_message or "",
                 "traceback": rec.traceback or ""}
    if as_json:
        _summary(job.id, state, code, result=result, result_kind=kind, error=error,
                 reason=None if rec is None else rec.reason, ran=False)
        return code
    if state == DONE:
        _say(f"{_label(job)} is done: nothing to run again")
        if kind == "json":
            print(json.dumps(result), flush=True)
        elif kind == "memory":
            _say("its result was not JSON-serialisable: kept only in the process that ran it")
        return code
    why = (rec.reason if rec is not None else None) or job.error or state
    _say(f"{_label(job)} ended {state} ({why}): a job that ended is not run again")
    return code


def _wait(host: Host, job_id: int) -> bool:
    """Wait for the job to end, saying what it waits for; False if stopped by a signal."""
    stopped: list[int] = []
    old = {s: signal.signal(s, lambda n, _f: stopped.append(n))
           for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    said: str | None = None
    try:
        e = host.sched.entries[job_id]
        while not e.done.wait(0.1):
            if stopped:
                return False
            with host.sched.lock:
                state, reason = e.state, e.reason
            if state == WAITING and reason and reason != said:
                _say(f"job {job_id} {reason}; Ctrl-C stops waiting (resumable)")
                said = reason
        return True
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def resume_call_job(store: Store, job: JobRecord, workers: int | None, as_json: bool) -> int:
    """Resume call job ``job`` in this process; the exit code (0 done, 1 it did not end done,
    130 stopped; 2, raised, when it cannot be resumed here)."""
    live, pid = job_liveness(store, job.id, spec=job.spec, state=job.state)
    state = shown_state(job.spec, job.state, live)
    if state in FINAL_STATES:
        return _stored_outcome(store, job, as_json)
    if live:
        who = f" (pid {pid})" if pid else ""
        fail("JOB", f"job {job.id} belongs to a running program{who}, which runs it")
    why = not_resumable(job.spec)
    if why is not None:
        fail("JOB", f"job {job.id} is {why}")
    host = Host(store, workers or 1, None, _GRACE)
    host.start_thread()
    try:
        if not resume_job(host, job.id):
            # ended or taken by another process meanwhile
            job = store.get_job(job.id)
            if job.state in FINAL_STATES:
                return _stored_outcome(store, job, as_json)
            fail("JOB", f"job {job.id} was taken by another process meanwhile")
        e = host.sched.entries[job.id]
        if not e.resumable:
            fail("JOB", f"job {job.id} is {e.reason}")
        if not as_json:
            _say(f"resuming {_label(job)}")
        if not _wait(host, job.id):
            host.close(_GRACE)
            advice = resume_advice(job.id, store.path)
            if as_json:
                _summary(job.id, INTERRUPTED, EXIT_INTERRUPTED, reason="stopped")
            else:
                _say(f"job {job.id} interrupted; {advice}")
            return EXIT_INTERRUPTED
    finally:
        if not host.closed:
            host.close(_GRACE)
    return _ran(job.id, e.state, e.result, e.result_kind, e.error, as_json)


def _ran(job_id: int, state: str, result: Any, kind: str | None, error: Any,
         as_json: bool) -> int:
    code = EXIT_OK if state == DONE else EXIT_FAILED
    err = None if error is None else {"type": error.type, "message": error.message,
                                      "traceback": error.traceback}
    if as_json:
        shown = result if kind == "json" else None
        _summary(job_id, state, code, result=shown, result_kind=kind, error=err, ran=True)
        return code
    if state == DONE:
        if kind == "json":
            print(json.dumps(result), flush=True)
        else:
            _say(f"job {job_id} returned a {type(result).__qualname__}, which is not "
                 "JSON-serialisable: nothing to print")
        _say(f"job {job_id} done")
        return code
    _say(f"job {job_id} {state}: {error}" if error is not None else f"job {job_id} {state}")
    if error is not None and error.traceback:
        sys.stderr.write(error.traceback if error.traceback.endswith("\n")
                         else error.traceback + "\n")
    return code

