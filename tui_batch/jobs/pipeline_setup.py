"""Pipelines before they run: checking a recipe's steps, each step's settings, where each
step's output goes, and what a killed run left for ``resume`` to finish.

Why a module of its own: these rules hold for every client (the CLI's ``--then``, recipes,
the TUI form, ``--dry-run`` and the preview, ``resume``), and none of them needs a running
engine. :mod:`.pipeline` runs the steps; this module decides whether a chain can work at all
and how a file moves along it:

* step 1 reads the scanned file; step N+1 reads the file step N wrote for it, which must be
  under ``--out``, and writes its own output beside it under its own name
  (``report.pdf`` -> ``report.txt`` -> ``report.txt.gz``): so every step but the last must
  write a file, and no step after the first may keep its input's name;
* in the store, steps are 0-based (``tasks.step``: 0 is the first); in every message they are
  counted from 1, as a user counts the ``[[steps]]`` tables (``steps[1]`` is the first).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..actions import Action, default_dedupe, display_path, resolve_action
from ..engine import Task
from ..errors import InputError
from ..model import EngineSettings, JobSpec, Priority, StepSpec, TaskState
from ..store import ChildTask, TaskRecord

__all__ = [
    "child_of",
    "final_output",
    "orphans",
    "resolve_steps",
    "same_file",
    "step_counts_text",
    "step_settings",
    "step_workers",
]

_SAMPLE = "sample.data"  # an input name no step's output shares (checks of the chain)
_FIELD = {"--opt": "options", "--exec": "template", "--action": "name", "--shell": "shell"}


def step_settings(spec: JobSpec, step: StepSpec) -> EngineSettings:
    """The job's settings with what the step sets for itself (workers, retries, timeout,
    priority)."""
    s = replace(spec.settings, no_retry_exit_codes=list(spec.settings.no_retry_exit_codes))
    if step.workers is not None:
        s.workers = step.workers
    if step.retries is not None:
        s.retries = step.retries
    if step.timeout is not None:
        s.timeout = step.timeout
    if step.priority is not None:
        s.priority = step.priority
    return s


def step_workers(step: StepSpec, action: Action, settings: EngineSettings) -> int:
    """Workers of a step's engine: the step's own ``workers``, else the job's ``-j``, else
    the action's ``default_workers``, else one per CPU (a one-action job's rule, so ``-j``
    means the same with and without ``--then``)."""
    return (step.workers or settings.workers or action.default_workers or os.cpu_count() or 1)


@contextlib.contextmanager
def _about(where: str) -> Iterator[None]:
    """An action's own check names a flag (``--opt``); in a pipeline it is about a step."""
    try:
        yield
    except InputError as exc:
        field = exc.field
        if field.startswith("-"):
            sub = _FIELD.get(field)
            field = f"{where}.{sub}" if sub else where
        elif field.startswith("action"):
            field = field.replace("action", where, 1)
        raise InputError(field, exc.message) from None


def _inside(path: str, folder: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(folder).rstrip(os.sep) + os.sep)


def resolve_steps(spec: JobSpec) -> list[Action]:
    """Resolve and check every step of a pipeline (errors name ``steps[N]`` and the key),
    and refuse a chain that cannot work: a step before the last that writes no file under
    ``--out`` for the next one to read, a later step that would write over its input, a
    template that names no placeholder (its input would be a guess). Sets the job's dedupe
    default from the first step, as a one-action job does."""
    spec.settings.check()
    out_dir = spec.settings.out_dir
    multi = len(spec.filter.roots) > 1
    root = spec.filter.roots[0] if spec.filter.roots else "."
    actions: list[Action] = []
    prev: str | None = None
    last = len(spec.steps)
    for i, step in enumerate(spec.steps, 1):
        where = f"steps[{i}]"
        settings = step_settings(spec, step)
        with _about(where):
            step.action.check()
            action = resolve_action(step.action)
            action.check(step.action, settings)
        if getattr(action, "appends_path", False):
            raise InputError(f"{where}.template",
                             "names no placeholder: in a pipeline a step's input must be named "
                             "({} is the file the previous step wrote)")
        if i == 1:
            out = action.out_path_for(out_dir, root, _SAMPLE, multi) if out_dir else None
        else:
            assert prev is not None and out_dir is not None
            out = action.out_path_for(out_dir, out_dir, os.path.relpath(prev, out_dir), False)
            if out is not None and os.path.abspath(out) == os.path.abspath(prev):
                raise InputError(where, "would write its output over its input (it keeps "
                                        "its input's name): give it an action or an "
                                        "{out.EXT} that names what it writes")
        if i < last:
            if out is None or out_dir is None:
                hint = " (give --out DIR)" if out_dir is None else ""
                raise InputError(where, f"writes no file for the next step to read{hint}")
            if not _inside(out, out_dir):
                raise InputError(where, "writes its output outside --out, where the next step "
                                        "cannot find it")
        prev = out
        actions.append(action)
    if spec.settings.dedupe is None:
        spec.settings.dedupe = default_dedupe(actions[0], out_dir)
    return actions


def final_output(actions: Sequence[Action], out_dir: str | None, root: str, rel: str,
                 multi_root: bool) -> str | None:
    """The file the last step writes for an input (``report.pdf`` -> ``report.txt.gz``),
    or None when it writes none (``--dry-run`` and the preview show it)."""
    if out_dir is None:
        return None
    out: str | None = None
    for k, action in enumerate(actions):
        if k == 0:
            out = action.out_path_for(out_dir, root, rel, multi_root)
        elif out is not None:
            out = action.out_path_for(out_dir, out_dir, os.path.relpath(out, out_dir), False)
        if out is None:
            return None
    return out


def child_of(parent: Task, step: int, action: Action, out_dir: str, multi_root: bool,
             job_id: int, priority: Priority | None, cancelled: bool,
             task_id: int) -> tuple[ChildTask, Task]:
    """The next step's task of the file ``parent`` (a task of step ``step - 1`` that just
    succeeded, with ``action`` its step's action): the store's row and the engine's task. It
    reads what the parent wrote, mirrored under ``out_dir``; if that file is not there the
    task is made failed (retry runs it once the file is back)."""
    out = action.out_path_for(out_dir, parent.root, parent.rel, multi_root)
    assert out is not None  # resolve_steps: every step but the last writes a file
    prefix = out_dir if out_dir.endswith(os.sep) else out_dir + os.sep
    # the mirrored path under out_dir (resolve_steps); relpath costs 10x the prefix cut
    rel = out[len(prefix):] if out.startswith(prefix) else os.path.relpath(out, out_dir)
    state, reason, error = TaskState.QUEUED, None, None
    size = mtime = dev = ino = 0
    try:
        st = os.stat(out)
        size, mtime, dev, ino = st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino
    except OSError:
        state = TaskState.FAILED
        error = f"step {step} ({action.name}) wrote no {display_path(out)} for this step"
    if cancelled and state is TaskState.QUEUED:
        state, reason = TaskState.CANCELLED, "cancelled by user"
    prio = Priority(priority if priority is not None else parent.priority)
    child = ChildTask(task_id, job_id, parent.seq - 1, step, parent.id, out, out_dir, rel,
                      size, mtime, dev, ino, int(prio), state.value, reason, error)
    task = Task(id=task_id, path=out, root=out_dir, rel=rel, size=size, mtime_ns=mtime,
                dev=dev, ino=ino, priority=prio, state=state, error=error, reason=reason,
                seq=parent.seq, check_file=False)  # stat'ed just now (a resume checks again)
    return child, task


def orphans(records: Sequence[TaskRecord], steps: int) -> list[TaskRecord]:
    """Done tasks of a step before the last with no next-step task: a kill between the two
    (which the store commits together, so only an older journal or a hand-edited store can
    show one). ``resume`` makes their next step."""
    has_child = {r.parent for r in records if r.parent is not None}
    return [r for r in records
            if r.state == TaskState.DONE.value and r.step < steps - 1 and r.id not in has_child]


def spare_ids(records: Sequence[TaskRecord], steps: int) -> int:
    """How many next-step tasks the job may still make: each unfinished (or retriable) task
    of step k may lead to one task of every later step."""
    done_or_skipped = (TaskState.DONE.value, TaskState.SKIPPED.value)
    return sum(steps - 1 - r.step for r in records
               if r.state not in done_or_skipped and r.step < steps - 1)


def same_file(task: Task) -> bool:
    """Is ``task.path`` still the file the task was made for (same inode, size and mtime)?
    A ``keep = false`` output is removed only then: in watch mode a newer version of the same
    input may have rewritten it meanwhile, for its own next step. OSError: it is gone."""
    if not task.ino:
        return True
    st = os.stat(task.path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == (
        task.dev, task.ino, task.size, task.mtime_ns)


def remove_used(records: Sequence[TaskRecord], spec: JobSpec) -> int:
    """Intermediate outputs of ``keep = false`` steps whose next step already succeeded (a
    kill came between the two): removed now. Returns how many."""
    n = 0
    for r in records:
        if r.step >= 1 and r.state == TaskState.DONE.value and not spec.steps[r.step - 1].keep:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(r.path)
                n += 1
    return n


def step_counts_text(counts: Sequence[dict[Any, int]], names: Sequence[str]) -> str:
    """:func:`counts_text` from counts by state (TaskState or its value) and step names
    (``tui-batch jobs JOB`` reads them from the store)."""
    parts = []
    for k, (c, name) in enumerate(zip(counts, names, strict=False), 1):
        made = sum(c.values())
        done = sum(n for state, n in c.items() if state == "done")  # TaskState is a str
        failed = sum(n for state, n in c.items() if state == "failed")
        text = f"step {k} {name} {done}/{made}"
        if failed:
            text += f" ({failed} failed)"
        parts.append(text)
    return "  ".join(parts)
