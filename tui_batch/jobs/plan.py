"""Planning and creating a job: the two steps before anything runs.

A plan (scan + dedupe + preview) has no side effects, so every client can show it, let the
user deselect files, and throw it away; :func:`create_job` is the one place that turns a plan
into stored rows, spec and tasks in one transaction. The rules that decide what a job covers
live here once for every client: the action is resolved and checked against the settings
(:func:`resolve_checked_action`) and the output folder is never scanned as input
(:func:`scan_filter`, which watch mode uses too). Running a created job is
:mod:`.runner`'s concern.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..actions import Action, default_dedupe, resolve_action
from ..model import FileEntry, FilterSpec, JobSpec, Priority, TaskState
from ..select import Preview, ScanIssue, build_preview, check_out_dir, scan
from ..store import NewTask, Store

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


def resolve_checked_action(spec: JobSpec) -> Action:
    """Resolve the action and let it check the settings it depends on (e.g. --out)."""
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
    spec: JobSpec, *, store: Store | None = None, cancel: threading.Event | None = None
) -> Plan:
    """Scan, dedupe and preview. Blocking (run it in a thread from a UI); cancellable."""
    action = resolve_checked_action(spec)
    issues: list[ScanIssue] = []
    flt = scan_filter(spec)
    entries = list(scan(flt, on_issue=issues.append, cancel=cancel))
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
        dedupe=spec.settings.dedupe,
        cache=store,
        out_path_for=out_path_for,
    )
    return Plan(spec, action, entries, issues, preview, multi_root)


def create_job(
    store: Store,
    plan: Plan,
    *,
    exclude: Iterable[str] = (),
    priorities: Mapping[str, Priority] | None = None,
) -> int:
    """Write the job and its tasks, in one transaction (a kill never leaves a job without
    its tasks). ``exclude``: paths deselected in the preview."""
    excluded = set(exclude)
    prios = priorities or {}
    default = plan.spec.settings.priority
    spec = plan.spec.to_dict()
    spec["multi_root"] = plan.multi_root
    rows: list[NewTask] = []
    for row in plan.preview.rows:
        e = row.entry
        if e.path in excluded:
            continue
        state, reason = TaskState.QUEUED.value, None
        if row.duplicate_of is not None:
            state, reason = TaskState.SKIPPED.value, f"duplicate of {row.duplicate_of}"
        rows.append(
            NewTask(
                path=e.path, root=e.root, rel=e.rel, size=e.size, mtime_ns=e.mtime_ns,
                dev=e.dev, ino=e.ino, priority=int(prios.get(e.path, default)), state=state,
                reason=reason, duplicate_of=row.duplicate_of,
            )
        )
    return store.create_job(spec, name=plan.spec.name, tasks=rows)
