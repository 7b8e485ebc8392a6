"""Rebuilding a scheduler from the store after a restart (``batch.resume_unfinished()``).

Why a module of its own: what a restart must keep is decided here, once: jobs come back in
submission order (so a sequential group keeps its order and a job's dependencies are placed
before it), done jobs are never run again (they are not unfinished), a job that was running
when its host died runs again (at-least-once, as for file tasks), waiting jobs keep waiting,
paused ones stay paused, and a job built from a lambda or a closure, which no process can find
again, is marked interrupted with the reason :data:`~.host.NOT_RESUMABLE`. Jobs whose host is
still alive (another process holds its host lock) are left to it.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..jobs.states import INTERRUPTED, PAUSED, WAITING
from ..store import job_liveness, tasks_left
from .calls import resolve
from .entry import Entry
from .errors import ErrorInfo
from .host import Host

__all__ = ["resume_job", "resume_unfinished"]

_FILE_JOB_STATES = ("running", "interrupted", "paused")


def _orphan_file_jobs(host: Host) -> list[int]:
    """File jobs left unfinished by a run that died, which never joined a scheduler."""
    out = []
    for j in host.store.list_jobs():
        spec = j.spec
        if spec.get("kind") == "call" or spec.get("watch") or j.state not in _FILE_JOB_STATES:
            continue
        live = job_liveness(host.store, j.id, spec=spec, state=j.state)[0]
        if tasks_left(j.counts) and not live and host.store.get_sched(j.id) is None:
            out.append(j.id)
    return out


def _entry(host: Host, job_id: int) -> tuple[Entry, str | None] | None:
    """The entry of a stored job, and why it cannot run again (None: it can)."""
    store = host.store
    job = store.get_job(job_id)
    if job_liveness(store, job_id, spec=job.spec, state=job.state)[0]:
        return None  # a live process runs it
    rec = store.get_sched(job_id)
    after, after_any = store.sched_links(job_id)
    group = None if job.group_id is None else host.known_group(job.group_id)
    e = Entry(id=job_id, name=job.name, kind="files", seq=job_id, after=tuple(after),
              after_any=tuple(after_any), group=group, state=WAITING,
              priority=1 if rec is None else rec.priority,
              attempts=0 if rec is None else rec.attempts, paused=job.state == PAUSED)
    call: dict[str, Any] | None = job.spec.get("call") if job.spec.get("kind") == "call" else None
    if call is None:
        return e, None
    e.kind = "call"
    e.exec = call.get("exec") or "io"
    e.retries, e.timeout = int(call.get("retries") or 0), call.get("timeout")
    e.backoff = float(call.get("backoff") or 0.0)
    why = call.get("not_resumable")
    if why is None:
        try:
            e.ref = call["func"]
            e.func = resolve(e.ref or "")
            stored = call.get("args") or {}
            e.args, e.kwargs = tuple(stored.get("args") or ()), dict(stored.get("kwargs") or {})
        except InputError as exc:
            why = f"not resumable: {exc.message}"
    if why is not None:
        e.resumable = False
        e.error = ErrorInfo("Interrupted", why)
    return e, why


def _take(host: Host, jid: int, orphan: bool) -> bool:
    """Load stored job ``jid`` into the scheduler (lock held); False if a live process holds
    it or it is there already."""
    sched, store = host.sched, host.store
    if jid in sched.entries:
        return False
    built = _entry(host, jid)
    if built is None:
        return False
    e, why = built
    if why is not None:
        e.state, e.reason = INTERRUPTED, why
        sched.add(e)
        sched.writer.put(("state", jid, INTERRUPTED, why))
        return True
    if orphan:
        store.schedule_job(jid, name=None, state=WAITING, group_id=None, priority=e.priority)
    sched.add(e, op=True)
    return True


def resume_unfinished(host: Host, *, include_files: bool = True) -> list[int]:
    """Load every unfinished stored job no live process holds into ``host``'s scheduler (in
    submission order) and let it run them; returns their ids."""
    store, sched = host.store, host.sched
    ids = store.unfinished_scheduled()
    orphans = _orphan_file_jobs(host) if include_files else []
    taken: list[int] = []
    with sched.lock:
        for jid in sorted({*ids, *orphans}):
            if _take(host, jid, jid in orphans):
                taken.append(jid)
        if taken:
            store.adopt_jobs(taken, host.identity)
    return taken


def resume_job(host: Host, job_id: int) -> bool:
    """Load one unfinished stored job (``tui-batch resume JOB``) into ``host``'s scheduler,
    alone: the jobs it waits for are not resumed with it (it waits for them through the
    store, as for any job of another process). False when a live process holds it or it has
    ended (a done job never runs again). A lambda's job is taken and marked interrupted
    (its reason says why it cannot run)."""
    store, sched = host.store, host.sched
    if job_id not in store.unfinished_scheduled():
        return False
    with sched.lock:
        if not _take(host, job_id, False):
            return False
        store.adopt_jobs([job_id], host.identity)
    return True
