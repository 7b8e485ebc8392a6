"""Job-level hooks: what an action may do once per run, around its per-file tasks.

Most actions are per file and need nothing more. A few need the whole job: ``checksum`` with
``manifest=PATH`` writes one manifest from every done task (tasks done before a kill included,
so it cannot be built from one run's events), and ``verify`` skips the files its manifest does
not list and reports the listed files that are gone. Both hooks are optional methods, looked up
with ``getattr`` so any action (a plugin's too) can declare them:

* ``prepare_job(info: JobInfo) -> dict[int, str]``: called by the runner before the tasks are
  handed to the engine, on every run and resume; returns the ids of queued tasks to skip, with
  the reason shown for each.
* ``finish_job(info: JobInfo) -> JobReport | None``: called once the engine ran every task to
  an end (not after an interrupted run: ``resume`` calls it when it finishes); the report's
  lines are printed on stderr at the end of a headless run, and ``failed`` makes the job fail
  (exit 1) even when every task succeeded.

Actions may import nothing of the store, so the runner (``jobs/hooks.py``) gathers the tasks
and hands results over through :attr:`JobInfo.results`.

A hook specialised by options (``for_options(options) -> Action``, called by
:func:`~tui_batch.actions.resolve_action`) lets an action whose output name depends on an
option (``compress format=zstd`` writes ``.zst``) return a copy declaring it, so the engine,
the preview and leftover clean-up all see the right name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["JobInfo", "JobReport", "JobTask", "manifest_name"]


@dataclass(frozen=True, slots=True)
class JobTask:
    """One task of the job as the hooks see it (``state`` is a TaskState value)."""

    id: int
    path: str
    root: str
    rel: str
    state: str


def _no_results(ids: Sequence[int]) -> dict[int, str]:
    return {}


@dataclass(slots=True)
class JobInfo:
    """What a job-level hook gets: the job's settings and every one of its tasks."""

    job_id: int
    roots: tuple[str, ...]
    multi_root: bool
    out_dir: str | None
    options: dict[str, str]
    tasks: list[JobTask]
    results: Callable[[Sequence[int]], dict[int, str]] = field(default=_no_results)
    """``results(ids)``: the text each done task returned (its stdout), by task id."""


@dataclass(slots=True)
class JobReport:
    """What a ``finish_job`` hook has to say: lines for stderr, and whether the job failed."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False


def manifest_name(root: str, rel: str, multi_root: bool) -> str:
    """A task's name in a job-wide listing: ``rel`` under its root, or with several roots
    ``<basename of root>/rel`` (the layout ``--out`` mirrors them in), so ``sha256sum -c``
    run in the root (several roots: in their common parent) finds every file."""
    if not multi_root:
        return rel
    base = os.path.basename(os.path.normpath(os.path.abspath(root))) or "root"
    return f"{base}/{rel}"
