"""Planning and creating a job: the two steps before anything runs.

A plan (scan + dedupe + preview) has no side effects, so every client can show it, let the
user deselect files, and throw it away; :func:`create_job` is the one place that turns a plan
into stored rows, spec and tasks in one transaction. The rules that decide what a job covers
live here once for every client: the action is resolved and checked against the settings
(:func:`resolve_checked_action`) and the output folder is never scanned as input
(:func:`scan_filter`, which watch mode uses too). Both steps take a ``progress`` callback
(:mod:`.progress`): on a big tree they take seconds, and every client shows the counts. Running
a created job is :mod:`.runner`'s concern.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..actions import Action, default_dedupe, display_path, resolve_action
from ..model import FileEntry, FilterSpec, JobSpec, Priority, TaskState
from ..select import Preview, ScanIssue, build_preview, check_out_dir, find_duplicates, scan
from ..store import NewTask, Store
from .progress import CREATING, HASHING, SCANNING, ProgressEmitter, ProgressFn

__all__ = ["Plan", "create_job", "plan_job", "resolve_checked_action", "scan_filter"]


@dataclass
class Plan:
    """What a job would do: the files, their duplicates and outputs. Nothing written yet."""

    spec: JobSpec
    action: Action
    entries: list[FileEntry]
    issues: list[ScanIssue]
    preview: Preview
    multi_root: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    files_seen: int = 0
    """Files the scan looked at, selected or not (see ``scan(progress=...)``)."""

    def nothing_matched(self) -> str | None:
        """Why there is nothing to run, in the words every client prints (None: files)."""
        if self.entries:
            return None
        where = ", ".join(repr(display_path(r)) for r in self.spec.filter.roots)
        if self.files_seen:
            seen = f"{self.files_seen:,} file{'s' if self.files_seen != 1 else ''}"
            return f"no files matched: {seen} under {where}, none passes the filter"
        return f"no files matched: no files under {where}"


def resolve_checked_action(spec: JobSpec) -> Action:
    """Resolve the action and let it check the settings it depends on (e.g. --out). A
    pipeline's every step is checked, and its chain (:func:`~.pipeline_setup.resolve_steps`);
    the first step's action is returned."""
    if spec.steps:
        from .pipeline_setup import resolve_steps

        return resolve_steps(spec)[0]
    spec.action.check()
    spec.settings.check()  # the ranges every client gets (an API-built spec too)
    action = resolve_action(spec.action)
    action.check(spec.action, spec.settings)
    if spec.settings.dedupe is None:  # not chosen: the action's default, stored with the job
        spec.settings.dedupe = default_dedupe(action, spec.settings.out_dir)
    return action


def scan_filter(spec: JobSpec) -> FilterSpec:
    """The job's filter, with the output folder excluded so outputs never become inputs."""
    flt = spec.filter
    out = spec.settings.out_dir
    if out:
        check_out_dir(flt.roots, out)
        out_abs = os.path.abspath(out)
        if out_abs not in flt.excludes:
            flt = FilterSpec(**{**flt.to_dict(), "excludes": [*flt.excludes, out_abs]})
    return flt


def plan_job(
    spec: JobSpec,
    *,
    store: Store | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
) -> Plan:
    """Scan, dedupe and preview. Blocking (run it in a thread from a UI); cancellable.

    ``progress`` hears the ``scanning`` phase, then ``hashing`` when duplicates are looked
    for, at most about ten times a second each, always with a final event (not after a
    cancel); it is called on the planning thread."""
    action = resolve_checked_action(spec)
    issues: list[ScanIssue] = []
    flt = scan_filter(spec)
    emit = ProgressEmitter(progress) if progress is not None else None
    seen = [0]

    def scanned(files: int, matched: int) -> None:  # once per folder: cheap enough to keep
        seen[0] = files
        if emit is not None:
            emit.scanned(files, matched)

    if emit is not None:
        emit.begin(SCANNING)
    entries = list(scan(flt, on_issue=issues.append, cancel=cancel, progress=scanned))
    stopped = cancel is not None and cancel.is_set()
    if emit is not None and not stopped:
        emit.end()
    dedupe_result = None
    if spec.settings.dedupe and entries and not stopped:
        if emit is not None:
            emit.begin(HASHING)
        dedupe_result = find_duplicates(
            entries, cache=store, cancel=cancel, progress=None if emit is None else emit.hashed
        )
        if emit is not None and not dedupe_result.cancelled:
            emit.end()
    multi_root = len(spec.filter.roots) > 1
    out_dir = spec.settings.out_dir

    def out_path_for(entry: FileEntry) -> str | None:
        if out_dir is None:
            return None
        return action.out_path_for(out_dir, entry.root, entry.rel, multi_root)

    preview = build_preview(
        entries,
        action=action,
        out_dir=out_dir,
        roots=spec.filter.roots,
        dedupe=spec.settings.dedupe and not stopped,  # a cancelled plan is thrown away
        cache=store,
        out_path_for=out_path_for,
        dedupe_result=dedupe_result,
    )
    return Plan(spec, action, entries, issues, preview, multi_root, files_seen=seen[0])


def create_job(
    store: Store,
    plan: Plan,
    *,
    exclude: Iterable[str] = (),
    priorities: Mapping[str, Priority] | None = None,
    progress: ProgressFn | None = None,
) -> int:
    """Write the job and its tasks, in one transaction (a kill never leaves a job without
    its tasks). ``exclude``: paths deselected in the preview. ``progress`` hears the
    ``creating`` phase: tasks written of the total, then a final event."""
    excluded = set(exclude)
    prios = priorities or {}
    default = int(plan.spec.settings.priority)
    spec = plan.spec.to_dict()
    spec["multi_root"] = plan.multi_root
    rows_in = plan.preview.rows
    chosen = [r for r in rows_in if r.entry.path not in excluded] if excluded else rows_in
    emit = ProgressEmitter(progress) if progress is not None else None
    if emit is not None:
        emit.begin(CREATING, len(chosen))  # at once: building the rows takes a moment too
    queued, skipped = TaskState.QUEUED.value, TaskState.SKIPPED.value  # not per row
    rows: list[NewTask] = []
    append = rows.append
    for row in chosen:
        e = row.entry
        dup = row.duplicate_of
        append(
            NewTask(
                path=e.path, root=e.root, rel=e.rel, size=e.size, mtime_ns=e.mtime_ns,
                dev=e.dev, ino=e.ino, state=queued if dup is None else skipped,
                priority=int(prios.get(e.path, default)) if prios else default,
                reason=None if dup is None else f"duplicate of {dup}", duplicate_of=dup,
            )
        )  # fmt: skip
    job_id = store.create_job(
        spec, name=plan.spec.name, tasks=rows, progress=None if emit is None else emit.stored
    )
    if emit is not None:
        emit.end()  # the store's last call was (total, total)
    return job_id
