"""`tui-batch log JOB [TASK_ID|PATH...]`: what the tasks of a job printed, byte for byte.

Why a command of its own: the run prints each task's output as it finishes, but a cron log is
gone, a dashboard was closed, a task failed three hours ago. Every attempt's whole output is
kept with the job (up to ``--max-output``), and this reads it back the way pueue's ``log`` and
GNU parallel's grouping do: a task's stdout on our stdout, its stderr on our stderr, exactly;
a header per block on stderr when more than one is shown. ``-f`` follows a running task or
job (:mod:`.log_follow`). Read-only: it works on a store the user may only read.

A pipeline job (``[[steps]]``, ``--then``) has one task per step of each file. A task named by
id is that one step. A file named by PATH (any step's input path: the scanned file, or an
intermediate output under ``--out``) means the file: every step of it that was made, in step
order, each block under a header naming its step and the step's action
(``== task 7 step 2 [compress] (done): out/a.txt ==``), even when only one step ran so far;
``-f`` on it also follows the steps made while it runs. Every header of a pipeline job names
the step; ``--json`` objects carry ``step`` (from 1) and ``action``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import click

from ..errors import StoreError
from ..model.logfiles import DEFAULT_MAX_OUTPUT
from ..store import AttemptRecord, JobRecord, Store, TaskRecord
from .log_show import Shown, Writer, json_object, read_attempt, step_words
from .options import CONTEXT, fail
from .progress import display_path
from .stores import open_store_readonly

__all__ = ["Pick", "load_job", "log_cmd", "show_tasks"]

_CHUNK = 500  # tasks whose attempts are read at once (bounded memory on a 100k-task job)


@dataclass(frozen=True, slots=True)
class Pick:
    """Which attempts to show and how, from the command's flags."""

    job_id: int
    cap: int  # the job's --max-output
    attempt: int | None = None
    all_attempts: bool = False
    failed: bool = False
    named: bool = False  # tasks were named on the command line: show them even if silent
    headed: bool = True
    as_json: bool = False
    alive: bool = False  # a process runs the job now
    python_action: bool = False  # its output is the text each call returned
    steps: tuple[tuple[str, bool], ...] = ()
    """A pipeline's steps: each one's action label and whether it is Python code (its
    output is the text each call returned); empty for a job of one action."""

    def read(self, store: Store, task: TaskRecord, a: AttemptRecord) -> Shown:
        """One attempt's output, as this job keeps it."""
        python = self.python_action
        if 0 <= task.step < len(self.steps):
            python = self.steps[task.step][1]
        return read_attempt(store, self.job_id, task, a, self.cap, python_action=python)

    def step_of(self, task: TaskRecord) -> str | None:
        """``step 2 [compress]`` for a pipeline's task, None for a job of one action."""
        if not self.steps:
            return None
        label = self.steps[task.step][0] if 0 <= task.step < len(self.steps) else "?"
        return step_words(task.step, label)

    def attempts(self, atts: Sequence[AttemptRecord], ended_only: bool) -> list[AttemptRecord]:
        """The attempts of one task to show."""
        if not self.alive:  # left 'running' by a process that is gone
            atts = [replace(a, state="interrupted") if a.state == "running" else a
                    for a in atts]
        if ended_only:
            atts = [a for a in atts if a.state != "running"]
        if self.all_attempts:
            return list(atts)
        if self.attempt is not None:
            return [a for a in atts if a.n == self.attempt]
        return list(atts[-1:])

    def wants(self, s: Shown) -> bool:
        """Show this attempt: asked for by name or as a failure, or it printed something."""
        return self.named or self.failed or s.printed


def load_job(db: str | None, job_id: int) -> tuple[Store, JobRecord]:
    """The store (read-only) and the job, or exit 2 naming the job."""
    store = open_store_readonly(db)
    if store is None:
        fail("JOB", f"no job {job_id}: no job store yet at {Store.resolve_path(None)}")
    try:
        return store, store.get_job(job_id)
    except StoreError:
        store.close()
        fail("JOB", f"no job {job_id} in {store.path}")


def job_cap(job: JobRecord) -> int:
    """The job's cap on kept output per stream per attempt."""
    value = (job.spec.get("settings") or {}).get("max_output", DEFAULT_MAX_OUTPUT)
    return int(value) if isinstance(value, int | float) else DEFAULT_MAX_OUTPUT


def show_one(writer: Writer, pick: Pick, s: Shown) -> None:
    """One attempt: a header (when several blocks are shown), its bytes, our notes; or its
    JSON object."""
    if pick.as_json:
        import json

        obj = json_object(pick.job_id, s)
        if pick.steps:
            k = s.task.step
            obj["step"] = k + 1
            obj["action"] = pick.steps[k][0] if 0 <= k < len(pick.steps) else None
        writer.out.write(json.dumps(obj).encode() + b"\n")
        writer.out.flush()
        return
    if pick.headed:
        writer.header(s, with_attempt=pick.all_attempts or pick.attempt is not None,
                      step=pick.step_of(s.task))
    writer.show(s, pick.cap, pick.job_id)


def show_tasks(store: Store, writer: Writer, pick: Pick, tasks: Sequence[TaskRecord], *,
               ended_only: bool = False) -> set[tuple[int, int]]:
    """Show the picked attempts of ``tasks`` in their order; returns the (task, attempt)
    pairs shown. ``ended_only``: skip running attempts (a follower shows them when they
    end)."""
    shown: set[tuple[int, int]] = set()
    for chunk in _chunks(tasks):
        by_task = store.attempts_of([t.id for t in chunk])
        for t in chunk:
            atts = by_task.get(t.id, [])
            if not atts and pick.named:
                writer.note(_not_run(t))
            for a in pick.attempts(atts, ended_only):
                s = pick.read(store, t, a)
                if pick.wants(s):
                    show_one(writer, pick, s)
                    shown.add((t.id, a.n))
    return shown


def _not_run(t: TaskRecord) -> str:
    what = f"tui-batch: task {t.id} ({display_path(t.path)})"
    if t.state in ("queued", "interrupted", "running"):
        return f"{what} has not run yet ({t.state})"
    why = t.reason or (f"duplicate of {display_path(t.duplicate_of)}" if t.duplicate_of
                       else "")
    return f"{what} did not run ({t.state}{': ' + why if why else ''})"


def _chunks(tasks: Sequence[TaskRecord]) -> Iterator[Sequence[TaskRecord]]:
    for start in range(0, len(tasks), _CHUNK):
        yield tasks[start : start + _CHUNK]


def resolve_tasks(store: Store, job_id: int, args: Sequence[str]) -> list[TaskRecord]:
    """The tasks named by ``args``: task ids, or paths (as given to the job, relative to the
    current folder, or under the task's root). Exit 2 naming the first unknown one."""
    return resolve_files(store, job_id, args, whole_files=False)[0]


def resolve_files(store: Store, job_id: int, args: Sequence[str], *,
                  whole_files: bool) -> tuple[list[TaskRecord], set[int]]:
    """:func:`resolve_tasks`, and with ``whole_files`` (a pipeline) a path names its file:
    every step's task of that file, in step order. Returns the tasks and the files named by
    path (their ``seq``), whose later steps a follower shows too."""
    found: list[TaskRecord] = []
    files: set[int] = set()
    index: _PathIndex | None = None
    for arg in args:
        task = None
        if arg.isdigit():
            try:
                task = store.get_task(int(arg))
            except StoreError:
                task = None
            if task is not None and task.job_id != job_id:
                task = None
        picked = [task] if task is not None else []
        if task is None:
            index = index or _PathIndex(store.load_tasks(job_id))
            task = index.find(arg, job_id)
            picked = index.steps_of(task) if whole_files else [task]
            if whole_files:
                files.add(task.seq)
        for t in picked:
            if all(f.id != t.id for f in found):
                found.append(t)
    return found, files


class _PathIndex:
    """A job's tasks by the ways a user may spell their path."""

    def __init__(self, tasks: list[TaskRecord]) -> None:
        self.by_path: dict[str, TaskRecord] = {}
        self.by_abs: dict[str, TaskRecord] = {}
        self.by_rel: dict[str, list[TaskRecord]] = {}
        self.tasks = tasks
        self._by_seq: dict[int, list[TaskRecord]] | None = None
        for t in tasks:
            self.by_path.setdefault(t.path, t)
            self.by_path.setdefault(os.path.normpath(t.path), t)
            self.by_abs.setdefault(os.path.abspath(t.path), t)
            self.by_rel.setdefault(os.path.normpath(t.rel), []).append(t)

    def steps_of(self, task: TaskRecord) -> list[TaskRecord]:
        """Every step's task of ``task``'s file (a pipeline keeps a file's ``seq`` at every
        step), first step first."""
        if self._by_seq is None:
            self._by_seq = {}
            for t in self.tasks:
                self._by_seq.setdefault(t.seq, []).append(t)
        return sorted(self._by_seq.get(task.seq, [task]), key=lambda t: (t.step, t.id))

    def find(self, arg: str, job_id: int) -> TaskRecord:
        norm = os.path.normpath(arg) if arg else arg
        task = (self.by_path.get(arg) or self.by_path.get(norm)
                or self.by_abs.get(os.path.abspath(arg)) if arg else None)
        if task is not None:
            return task
        rel = self.by_rel.get(norm, []) if arg else []
        if len(rel) == 1:
            return rel[0]
        if len(rel) > 1:
            which = ", ".join(f"{t.id} ({display_path(t.path)})" for t in rel[:5])
            fail("TASK", f"'{display_path(arg)}' is under several roots of job {job_id}: "
                         f"tasks {which}; give the task id or the whole path")
        fail("TASK", f"no task '{display_path(arg)}' in job {job_id} (give a task id, the "
                     "path as given to the job, or the path under its root)")


@click.command("log", context_settings=CONTEXT,
               short_help="What a job's tasks printed (-f follows a running job).")
@click.argument("job_id", metavar="JOB", type=int)
@click.argument("tasks", metavar="[TASK_ID|PATH]...", nargs=-1)
@click.option("--attempt", type=click.IntRange(min=1), metavar="N",
              help="Attempt N of each task instead of the last.")
@click.option("--all-attempts", is_flag=True, help="Every attempt, each with a header.")
@click.option("--failed", is_flag=True, help="Every failed task (of those named, if any).")
@click.option("--follow", "-f", is_flag=True,
              help="Follow a running task, or the whole job, until it ends.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per attempt (output as text; bytes that are not UTF-8 "
                   "escaped and flagged).")
@click.option("--db", metavar="PATH", help="Job store (default: user data folder).")
def log_cmd(job_id: int, tasks: tuple[str, ...], attempt: int | None, all_attempts: bool,
            failed: bool, follow: bool, as_json: bool, db: str | None) -> None:
    """What the tasks of job JOB printed: the last attempt's stdout on stdout and its
    stderr on stderr, byte for byte. Name tasks by id or path; without any, every task that
    printed something, each under a header (on stderr). -f follows a running task or job.
    In a pipeline, a PATH means its file: every step of it, each under a header naming the
    step."""
    from ..store import job_liveness

    if attempt is not None and all_attempts:
        fail("--attempt", "give --attempt N or --all-attempts, not both")
    store, job = load_job(db, job_id)
    try:
        steps = _steps(job.spec)
        named, files = (resolve_files(store, job_id, tasks, whole_files=bool(steps))
                        if tasks else (None, set()))
        alive = job_liveness(store, job_id, spec=job.spec, state=job.state)[0]
        chosen = named
        if chosen is None:
            chosen = store.load_tasks(job_id, states=["failed"] if failed else None)
        elif failed:
            chosen = [t for t in chosen if t.state == "failed"]
        single = named is not None and len(named) == 1 and not failed and not files
        python = (job.spec.get("action") or {}).get("template") is None
        pick = Pick(job_id, job_cap(job), attempt, all_attempts, failed, named is not None,
                    headed=not (single and not all_attempts), as_json=as_json, alive=alive,
                    python_action=python, steps=steps)
        if attempt is not None and named:
            _check_attempt(store, named, attempt)
        writer = Writer()
        if follow and alive:
            from .log_follow import follow_job, follow_task

            try:
                if single and named is not None and attempt is None and not all_attempts:
                    follow_task(store, writer, pick, named[0])
                else:
                    follow_job(store, writer, pick, chosen if named is not None else None,
                               files=files)
            except KeyboardInterrupt:
                sys.exit(130)
            return
        shown = show_tasks(store, writer, pick, chosen)
        if not shown and not as_json and (named is None or failed):
            writer.note(_nothing(job_id, named is not None, failed))
    finally:
        store.close()


def _steps(spec: dict[str, object]) -> tuple[tuple[str, bool], ...]:
    """A pipeline job's steps as :attr:`Pick.steps` (empty for a job of one action)."""
    from ..model import ActionSpec

    raw = spec.get("steps")
    if not isinstance(raw, list) or not raw:
        return ()
    out = []
    for table in raw:
        table = table if isinstance(table, dict) else {}
        try:
            label = ActionSpec.from_dict({k: table[k] for k in ("name", "template", "shell",
                                                                "options") if k in table}).label
        except Exception:  # a step this version cannot read
            label = "?"
        out.append((label, table.get("template") is None))
    return tuple(out)


def _check_attempt(store: Store, tasks: Sequence[TaskRecord], n: int) -> None:
    by_task = store.attempts_of([t.id for t in tasks])
    for t in tasks:
        count = len(by_task.get(t.id, []))
        if count and not any(a.n == n for a in by_task[t.id]):
            fail("--attempt", f"task {t.id} has no attempt {n} (it ran {count} time"
                              f"{'s' if count != 1 else ''})")


def _nothing(job_id: int, named: bool, failed: bool) -> str:
    if failed:
        among = " among those named" if named else ""
        return f"tui-batch: no failed task in job {job_id}{among}"
    return f"tui-batch: no task of job {job_id} printed anything"
