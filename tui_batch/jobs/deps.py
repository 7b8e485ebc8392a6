"""What a job that runs after others is waiting for, read from the store, and waiting for it.

Why a module of its own: a job stored with ``after`` links (``tui-batch run --after JOB``, a
Batch's ``after=``) may wait for jobs that run in another process (a Batch host, another
``tui-batch run``), so the only common ground is the store. The CLI waits here before it runs
a job, the listings show what a job waits for with the same words, and the TUI may reuse it
(this module imports no client). The words are those of the Batch scheduler
(:func:`tui_batch.scheduler.entry.verdict`): "waiting for job 3", "job 3 failed".

:func:`shown_state` is the state a job really is in, given whether a live process holds it:
a stored ``running`` whose process died is ``interrupted`` (as :func:`effective_state` says
for every job), and so is a job that waits, queued or paused in the care of a process that is
gone (a Batch host, a waiting ``tui-batch run``: ``spec.host``); a job held by a live process
keeps its stored state (waiting, queued, done...) instead of reading ``running``.

A dependency is never this job itself, and no cycle can be built: a job can only name jobs
that exist when it is stored, and it exists only from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..errors import StoreError
from ..store import Store, effective_state, job_liveness
from .states import (
    CANCELLED,
    DEPENDENCY_FAILED,
    DONE,
    FAILED,
    FINAL_STATES,
    INTERRUPTED,
    PAUSED,
    QUEUED,
    RUNNING,
    WAITING,
)

__all__ = ["POLL", "READY", "STOPPED", "Stopper", "after_verdict", "dep_states", "ended_how",
           "not_resumable", "shown_state", "wait_for_jobs"]

POLL = 0.2
"""Seconds between store reads while waiting (a few indexed reads: cheap)."""
READY, STOPPED = "ready", "stopped"



class Stopper(Protocol):
    """What stops a wait: a ``threading.Event`` (set from another thread, e.g. a UI's), or
    anything whose ``wait(timeout)`` sleeps up to ``timeout`` and says whether to stop."""

    def wait(self, timeout: float) -> bool: ...


_HELD = frozenset({QUEUED, WAITING, PAUSED})
"""States of a job that has not started and sits in some process's care."""


def ended_how(state: str) -> str:
    """How a dependency ended, in the scheduler's words ("failed", "was cancelled")."""
    return {FAILED: "failed", CANCELLED: "was cancelled",
            DEPENDENCY_FAILED: "could not run (dependency failed)"}.get(state, state)


def not_resumable(spec: Mapping[str, Any]) -> str | None:
    """Why a stored call job can never run again ("not resumable: ..."), or None."""
    call = spec.get("call") if spec.get("kind") == "call" else None
    why = call.get("not_resumable") if isinstance(call, Mapping) else None
    return str(why) if why else None


def shown_state(spec: Mapping[str, Any], stored: str, live: bool) -> str:
    """The state to show for a job stored as ``stored``; ``live``: a live process holds it
    (its run lock, or the lock of the host named in ``spec.host``)."""
    if stored in FINAL_STATES:
        return stored
    if live:
        return stored if stored in _HELD or stored == INTERRUPTED else RUNNING
    host = spec.get("host") or spec.get("watch")
    if stored in _HELD and isinstance(host, Mapping) and host.get("identity"):
        return INTERRUPTED  # its host is gone: nobody runs it until it is resumed
    if not_resumable(spec) and stored != INTERRUPTED:
        return INTERRUPTED
    return effective_state(stored, live)


def dep_states(store: Store, ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """``{id: (shown state, why it can never end)}`` of the jobs ``ids``; a job deleted
    meanwhile reads as cancelled (it will never be done)."""
    out: dict[int, tuple[str, str | None]] = {}
    for jid in dict.fromkeys(ids):
        try:
            job = store.get_job(jid)
        except StoreError:
            out[jid] = (CANCELLED, None)
            continue
        live = job_liveness(store, jid, spec=job.spec, state=job.state)[0]
        state = shown_state(job.spec, job.state, live)
        out[jid] = (state, not_resumable(job.spec) if state == INTERRUPTED else None)
    return out


def after_verdict(
    states: Mapping[int, tuple[str, str | None]], after: Iterable[int],
    after_any: Iterable[int] = (),
) -> tuple[str, str | None]:
    """``(READY | WAITING | DEPENDENCY_FAILED, reason)`` for a job that runs once every job
    of ``after`` is done and every one of ``after_any`` has ended. A dependency interrupted
    for good (a lambda's job whose host is gone) counts as failed: waiting would be forever."""
    after, after_any = list(after), list(after_any)
    for dep in after:
        st, why = states[dep]
        if st in FINAL_STATES and st != DONE:
            return DEPENDENCY_FAILED, f"job {dep} {ended_how(st)}"
        if why is not None:
            return DEPENDENCY_FAILED, f"job {dep} was interrupted and cannot run again ({why})"
    for dep in after:
        if states[dep][0] != DONE:
            return WAITING, f"waiting for job {dep}"
    for dep in after_any:
        st, why = states[dep]
        if st not in FINAL_STATES and why is None:
            return WAITING, f"waiting for job {dep} to end"
    return READY, None


def wait_for_jobs(
    store: Store, after: Iterable[int], stop: Stopper, *,
    after_any: Iterable[int] = (), poll: float = POLL,
    on_change: Callable[[str, str | None, Mapping[int, tuple[str, str | None]]], None]
    | None = None,
) -> tuple[str, str | None]:
    """Block until the jobs are done (``READY``), one of ``after`` failed
    (``DEPENDENCY_FAILED`` and the reason naming it) or ``stop`` is set (``STOPPED`` and the
    last reason). ``on_change(verdict, reason, states)`` is called first and whenever the
    reason changes (e.g. to say it on stderr or store it). The jobs may run in any process:
    this polls the store every ``poll`` seconds."""
    after, after_any = tuple(after), tuple(after_any)
    last: tuple[str, str | None] | None = None
    while True:
        states = dep_states(store, (*after, *after_any))
        verdict = after_verdict(states, after, after_any)
        if verdict != last and on_change is not None:
            on_change(verdict[0], verdict[1], states)
        last = verdict
        if verdict[0] != WAITING:
            return verdict
        if stop.wait(poll):
            return STOPPED, verdict[1]
