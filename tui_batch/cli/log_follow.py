"""`tui-batch log -f`: follow a running task, or a whole running job, from another process.

Why a module of its own: following reads three things that change under it, and the order
matters. Whether a process still runs the job (its run lock, :func:`job_liveness`) is read
*before* the rows, so once it says "no" the rows read after it are final. A running
attempt's bytes come from its slot's files (``live_attempt`` / ``follow_bytes``) and are kept
only if the slot's live record still names that attempt after the read (the slot may have
moved on to the next task meanwhile); once the attempt row has ended, the rest comes from its
kept output (``store.output``). A whole job is followed by attempt rows: only the rows made
since the last poll are read (``attempts_after``), plus the few that were running.
"""

from __future__ import annotations

import time
from collections.abc import Sequence, Set
from dataclasses import replace

from ..model import TaskState
from ..store import AttemptRecord, Store, TaskRecord, job_liveness
from ..store.logs import LiveAttempt, Output
from .log import Pick, show_one, show_tasks
from .log_show import Shown, Writer

__all__ = ["follow_job", "follow_task"]

POLL = 0.15
"""Seconds between two looks at a followed task or job."""

_TERMINAL = frozenset(s.value for s in TaskState if s.terminal)


def _alive(store: Store, job_id: int) -> bool:
    return job_liveness(store, job_id)[0]


class _Stream:
    """One running attempt being followed: how much of each stream was written out."""

    def __init__(self, store: Store, writer: Writer, pick: Pick, task: TaskRecord,
                 attempt: AttemptRecord) -> None:
        self.store, self.writer, self.pick = store, writer, pick
        self.task, self.n = task, attempt.n
        self.pos = {"stdout": 0, "stderr": 0}

    def _read(self, live: LiveAttempt) -> dict[str, bytes]:
        cap, got = self.pick.cap, {}
        for stream, pos in self.pos.items():
            data = b""
            if pos < cap:
                data = self.store.follow_bytes(self.pick.job_id, live, stream, pos)
            got[stream] = data[: max(0, cap - pos)]
        return got

    def poll(self) -> None:
        """Write what the attempt added since the last poll (nothing if its slot has
        moved on: the attempt has ended, and :meth:`finish` writes the rest)."""
        store, job_id = self.store, self.pick.job_id
        step = self.task.step
        live = store.live_attempt(job_id, self.task.id, self.n, step=step)
        if live is None:
            return
        got = self._read(live)
        if store.live_attempt(job_id, self.task.id, self.n, step=step) != live:
            return
        self._write(got)

    def _write(self, got: dict[str, bytes]) -> None:
        for stream, data in got.items():
            if data and not self.pick.as_json:
                self.writer.data(stream, data, end=False)
            self.pos[stream] += len(data)

    def finish(self, attempt: AttemptRecord) -> None:
        """The attempt ended: the rest of its kept output, and what was cut."""
        s = self.pick.read(self.store, self.task, attempt)
        if self.pick.as_json:
            show_one(self.writer, self.pick, s)
            return
        rest = {"stdout": s.out.data[self.pos["stdout"]:],
                "stderr": s.err.data[self.pos["stderr"]:]}
        self._write(rest)
        for stream in rest:
            self.writer.end_line(stream)
        self.writer.notes(s, self.pick.cap, self.pick.job_id)


def follow_task(store: Store, writer: Writer, pick: Pick, task: TaskRecord) -> None:
    """Stream one task's output as it runs, attempt after attempt, until it ends (or no
    process runs its job any more)."""
    job_id, done_n = pick.job_id, 0
    atts = store.attempts(task.id)
    if atts and atts[-1].state != "running":  # between two attempts, or over: show the last
        show_tasks(store, writer, pick, [task])
        done_n = atts[-1].n
    elif atts:  # running: from the start of the attempt that runs now
        done_n = atts[-1].n - 1
    current: _Stream | None = None
    while True:
        alive = _alive(store, job_id)
        task = store.get_task(task.id)
        atts = store.attempts(task.id)
        if current is None:
            nxt = [a for a in atts if a.n > done_n]
            if nxt:
                a = nxt[0]
                if (a.n > 1 or done_n) and not pick.as_json:
                    nothing = Output(b"", 0)
                    writer.header(Shown(task, a, nothing, nothing), with_attempt=True,
                                  step=pick.step_of(task))
                current = _Stream(store, writer, pick, task, a)
            elif task.state in _TERMINAL or not alive:
                return
        if current is not None:
            a = next(x for x in atts if x.n == current.n)
            if a.state == "running" and alive:
                current.poll()
            else:
                if a.state == "running":  # its process is gone
                    current.poll()
                    a = replace(a, state="interrupted")
                current.finish(a)
                done_n, current = a.n, None
                continue  # at once: the next attempt may already run
        time.sleep(POLL)


def follow_job(store: Store, writer: Writer, pick: Pick,
               tasks: Sequence[TaskRecord] | None, *, files: Set[int] = frozenset()) -> None:
    """What the job's tasks printed so far, then each attempt's output as it ends, in
    completion order, until no process runs the job. ``tasks``: only these, and (a
    pipeline) the tasks of every step of the files in ``files`` (by ``seq``), made later
    too. Every step's attempts are rows of the job, so a whole job is followed step and all."""
    job_id = pick.job_id
    only = None if tasks is None else {t.id for t in tasks}
    mark = store.attempt_mark()
    pending: set[tuple[int, int]] = set()
    running = store.load_tasks(job_id, states=["running"])
    for tid, atts in store.attempts_of([t.id for t in running]).items():
        pending.update((tid, a.n) for a in atts if a.state == "running")
    listed = store.load_tasks(job_id) if tasks is None else list(tasks)
    if pick.failed:
        listed = [t for t in listed if t.state == "failed"]
    shown = show_tasks(store, writer, pick, listed, ended_only=True)
    while True:
        alive = _alive(store, job_id)
        mark, new = store.attempts_after(job_id, mark)
        ended = [a for a in new if a.state != "running"]
        pending.update((a.task_id, a.n) for a in new if a.state == "running")
        if pending:
            now = store.attempts_of(sorted({tid for tid, _ in pending}))
            for tid, n in list(pending):
                a = next((x for x in now.get(tid, []) if x.n == n), None)
                if a is None or a.state != "running" or not alive:
                    pending.discard((tid, n))
                    if a is not None:
                        ended.append(a if a.state != "running" else
                                     replace(a, state="interrupted"))
        ended.sort(key=lambda a: (a.ended_at or 0.0, a.task_id, a.n))
        for a in ended:
            key = (a.task_id, a.n)
            if key in shown:
                continue
            task = None
            if only is not None and a.task_id not in only:
                if not files:
                    continue
                task = store.get_task(a.task_id)
                if task.seq not in files:
                    continue
            shown.add(key)
            task = task or store.get_task(a.task_id)
            if pick.failed and a.state not in ("failed", "queued"):
                continue
            s = pick.read(store, task, a)
            if pick.wants(s):
                show_one(writer, pick, s)
        if not alive:
            return
        time.sleep(POLL)
