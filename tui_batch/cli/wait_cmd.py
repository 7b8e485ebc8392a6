"""`tui-batch wait JOB... | --all`: return when the jobs end; exit 0 only if every one is done.

Why a command of its own: a script that starts jobs elsewhere (``--detach``, another shell,
the TUI) needs to block until they end and know how they ended, as with ``pueue wait``. A job
served by a control socket is followed there (its "end" event says how it ended, at once); a
job run by a process without one (a Python Batch host) is polled in the store, as is every
job whose socket goes away before its end. A job that no process runs and that has not ended
(interrupted) would never end by waiting: it is reported as such and counts as not done.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from ..errors import ControlError, StoreError
from ..jobs.states import EXIT_FAILED, EXIT_OK, FINAL_STATES
from .control_cmds import db_option, not_running_message, reach
from .options import CONTEXT, fail
from .stores import open_store_readonly

if TYPE_CHECKING:
    from ..control import ControlClient
    from ..store import Store

__all__ = ["wait_cmd"]

_POLL = 0.2
"""Seconds between two looks at the store for the jobs no socket tells about."""
_START_GRACE = 2.0
"""Seconds a job not started yet (created, queued, waiting) with no process holding it is
given before it counts as not running: the process that runs it may be taking it up."""
_NOT_STARTED = frozenset({"created", "queued", "waiting"})
_COUNT_ORDER = ("done", "failed", "cancelled", "skipped", "interrupted", "queued", "running")


@dataclass
class _Ended:
    """How one job ended, as printed."""

    job_id: int
    state: str
    running: bool = False  # a job that has not ended but that nobody runs: False and a note
    note: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state == "done"


def _follow(client: ControlClient, job_id: int, out: queue.Queue[tuple[int, str | None]]) -> None:
    """A thread per served job: the state its "end" event gives, or None when the socket
    went away first (the store then tells)."""
    state: str | None = None
    try:
        with client:
            client.call("subscribe")
            for ev in client.events():
                if ev.get("ev") == "end":
                    state = str(ev.get("state") or "") or None
                    break
    except (ControlError, OSError, ValueError):
        state = None
    out.put((job_id, state))


class _Waiter:
    """Waits for a set of jobs, printing each one as it ends."""

    def __init__(self, store: Store, db: str | None, ids: list[int], as_json: bool) -> None:
        self.store, self.as_json = store, as_json
        self.pending = list(ids)
        self.polled: dict[int, float | None] = {}  # job -> when first seen not held, or None
        self.ended: list[_Ended] = []
        self.news: queue.Queue[tuple[int, str | None]] = queue.Queue()
        for job_id in ids:
            client = reach(db, job_id)
            if client is None:
                self.polled[job_id] = None
            else:
                threading.Thread(target=_follow, args=(client, job_id, self.news),
                                 name=f"wait-{job_id}", daemon=True).start()

    def run(self, timeout: float | None) -> bool:
        """Until every job ended (True) or ``timeout`` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._poll()
            if not self.pending:
                return True
            wait = _POLL if self.polled else None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                wait = left if wait is None else min(wait, left)
            try:
                job_id, state = self.news.get(timeout=wait)
            except queue.Empty:
                continue
            while True:
                if state is None:
                    self.polled[job_id] = None  # its socket went away: ask the store
                else:
                    self._end(_Ended(job_id, state))
                try:
                    job_id, state = self.news.get_nowait()
                except queue.Empty:
                    break

    def _poll(self) -> None:
        from ..store import effective_state, job_liveness

        for job_id, since in list(self.polled.items()):
            try:
                job = self.store.get_job(job_id)
            except StoreError:  # removed meanwhile (jobs --prune)
                self._end(_Ended(job_id, "deleted", note=f"job {job_id} was deleted"))
                continue
            running, pid = job_liveness(self.store, job_id, spec=job.spec, state=job.state)
            if running:
                self.polled[job_id] = None
                continue
            state = effective_state(job.state, running)
            if state in FINAL_STATES:
                self._end(_Ended(job_id, state))
                continue
            now = time.monotonic()
            if state in _NOT_STARTED and (since is None or now - since < _START_GRACE):
                self.polled[job_id] = now if since is None else since
                continue
            note = not_running_message(self.store, job, running, pid)
            self._end(_Ended(job_id, state, note=note))

    def _end(self, ended: _Ended) -> None:
        from ..store import effective_counts

        if ended.job_id not in self.pending:
            return
        self.pending.remove(ended.job_id)
        self.polled.pop(ended.job_id, None)
        try:
            ended.counts = effective_counts(self.store.task_counts(ended.job_id), False)
        except StoreError:
            ended.counts = {}
        self.ended.append(ended)
        self._print(ended)

    def _print(self, e: _Ended) -> None:
        if self.as_json:
            obj: dict[str, Any] = {"job": e.job_id, "state": e.state, "done": e.done,
                                   "counts": {k: v for k, v in e.counts.items() if v}}
            if e.note is not None:
                obj["running"] = False
                obj["error"] = e.note
            click.echo(json.dumps(obj))
            return
        if e.note is not None:
            click.echo(e.note)
            return
        counts = ", ".join(f"{e.counts[k]} {k}" for k in _COUNT_ORDER if e.counts.get(k))
        click.echo(f"job {e.job_id} ended: {e.state}" + (f" ({counts})" if counts else ""))


def _unfinished(store: Store) -> list[int]:
    """Every job that has not ended, oldest first (what `--all` waits for)."""
    from ..store import effective_state, job_liveness

    ids = []
    for j in store.list_jobs():
        if j.state in FINAL_STATES:
            continue
        running, _pid = job_liveness(store, j.id, spec=j.spec, state=j.state)
        if effective_state(j.state, running) not in FINAL_STATES:
            ids.append(j.id)
    return sorted(ids)


@click.command("wait", context_settings=CONTEXT,
               short_help="Wait until jobs end (exit 0 if all are done).")
@click.argument("job_ids", metavar="[JOB]...", type=int, nargs=-1)
@click.option("--all", "all_jobs", is_flag=True,
              help="Every job that has not ended when the command starts.")
@click.option("--timeout", type=float, metavar="S",
              help="Give up after S seconds (exit 1, naming the jobs still running).")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job as it ends.")
def wait_cmd(job_ids: tuple[int, ...], all_jobs: bool, timeout: float | None,
             db: str | None, as_json: bool) -> None:
    """Wait until the jobs end, wherever they run, printing each as it ends. Exit 0 when
    every one is done (all its tasks succeeded), 1 when one failed, was cancelled or
    interrupted, or is not running at all (nothing would end it: resume it first), or when
    --timeout ran out first."""
    if all_jobs and job_ids:
        fail("--all", "give JOB... or --all, not both")
    if not all_jobs and not job_ids:
        fail("JOB", "name the jobs to wait for, or give --all")
    if timeout is not None:
        from ..model.limits import SETTINGS

        SETTINGS["timeout"].check(timeout)
    store = open_store_readonly(db)
    if store is None:
        if all_jobs:
            click.echo("no unfinished job", err=True)
            sys.exit(EXIT_OK)
        from ..store import Store

        fail("JOB", f"no job {job_ids[0]}: no job store yet at {Store.resolve_path(None)}")
    try:
        ids = _unfinished(store) if all_jobs else list(dict.fromkeys(job_ids))
        for job_id in ids:
            try:
                store.get_job(job_id)
            except StoreError:
                fail("JOB", f"no job {job_id} in {store.path}")
        if not ids:
            click.echo("no unfinished job", err=True)
            sys.exit(EXIT_OK)
        waiter = _Waiter(store, db, ids, as_json)
        if not waiter.run(timeout):
            left = ", ".join(str(j) for j in waiter.pending)
            click.echo(f"tui-batch: wait: timed out after {timeout:g} s; still running: "
                       f"job{'s' if len(waiter.pending) > 1 else ''} {left}", err=True)
            sys.exit(EXIT_FAILED)
    finally:
        store.close()
    sys.exit(EXIT_OK if all(e.done for e in waiter.ended) else EXIT_FAILED)
