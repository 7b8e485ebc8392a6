"""`tui-batch jobs JOB`: one job in full: its spec, counts, timings and failures.

Why a module of its own: the job list says *that* a job failed; this says what it was (the
filter as the flags that select the same files, the action, the settings that differ from the
defaults), when it ran and how fast, and *why* each task failed: its last stderr line, the
line a person looks for first (the whole output is one ``tui-batch log`` away). Read-only,
like the list. A job in a scheduler also shows its group and the jobs it runs after; a Python
call job is shown by :mod:`.call_detail`.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import time
from typing import Any

import click
import humanize

from ..model import ActionSpec, EngineSettings, FilterSpec
from ..store import JobRecord, Store, TaskRecord
from .log_show import attempt_label, last_line
from .progress import display_path, fmt_duration

__all__ = ["FAILURES_SHOWN", "show_job"]

FAILURES_SHOWN = 20
"""Failures listed (the rest: ``tui-batch log JOB --failed``)."""


def _size(n: int, sep: str = "") -> str:
    for unit, k in (("TiB", 4), ("GiB", 3), ("MiB", 2), ("KiB", 1)):
        if n and n % (1024**k) == 0:
            return f"{n // 1024**k}{sep}{unit}"
    return str(n) if not sep else humanize.naturalsize(n, binary=True)


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def filter_flags(f: FilterSpec) -> str:
    """The filter as the flags that select the same files ("every file" without any)."""
    out: list[str] = []
    out += [x for e in f.extensions for x in ("--ext", e)]
    if f.min_size is not None:
        out += ["--min-size", _size(f.min_size)]
    if f.max_size is not None:
        out += ["--max-size", _size(f.max_size)]
    if f.newer is not None:
        out += ["--newer", dt.datetime.fromtimestamp(f.newer).isoformat(timespec="seconds")]
    if f.older is not None:
        out += ["--older", dt.datetime.fromtimestamp(f.older).isoformat(timespec="seconds")]
    if f.name_regex is not None:
        out += ["--name", f.name_regex]
    out += [x for e in f.excludes for x in ("--exclude", e)]
    out += [x for e in f.exclude_res for x in ("--exclude-re", e)]
    out += (["--hidden"] if f.hidden else []) + (["--follow"] if f.follow else [])
    out += [] if f.use_ignore else ["--no-ignore"]
    return " ".join(shlex.quote(display_path(x)) for x in out) or "every file"


def _secs(s: float) -> str:
    return f"{s:g}s"


def settings_text(s: EngineSettings) -> str:
    """The settings in words: workers and the cap always, the rest when not the default."""
    d = EngineSettings()
    w = s.workers
    parts = ["one worker per CPU" if not w else f"{w} worker{'s' if w != 1 else ''}"]
    if s.priority != d.priority:
        parts.append(f"priority {s.priority.name.lower()}")
    if s.retries:
        parts.append(f"retries {s.retries} (backoff {_secs(s.backoff)}, at most "
                     f"{_secs(s.backoff_max)})")
    if s.timeout is not None:
        parts.append(f"timeout {_secs(s.timeout)}")
    if s.no_retry_exit_codes:
        parts.append("never retried: exit " + ", ".join(map(str, s.no_retry_exit_codes)))
    if s.halt_after_failures is not None:
        parts.append(f"halt after {s.halt_after_failures} failures")
    if s.halt_failure_percent is not None:
        parts.append(f"halt at {s.halt_failure_percent:g}% failed")
    if s.dedupe is not None:
        parts.append("dedupe " + ("on" if s.dedupe else "off"))
    if s.kill_grace != d.kill_grace:
        parts.append(f"kill after {_secs(s.kill_grace)}")
    parts.append(f"max output {_size(s.max_output, ' ')}")
    return ", ".join(parts)


def _failures(store: Store, failed: list[TaskRecord]) -> list[dict[str, Any]]:
    by_task = store.attempts_of([t.id for t in failed])
    rows = []
    for t in failed:
        atts = by_task.get(t.id, [])
        last = atts[-1] if atts else None
        line = last_line(last.stderr_tail) if last is not None else None
        rows.append({
            "task": t.id, "path": t.path, "rel": t.rel, "attempts": t.attempts,
            "exit_code": t.exit_code, "signal": t.signal, "error": t.error,
            "why": attempt_label(last).removeprefix("failed").lstrip(", ") if last else None,
            "last_stderr": line,
        })
    return rows


def job_info(store: Store, job: JobRecord, running: bool, pid: int | None) -> dict[str, Any]:
    """Everything `jobs JOB` shows, as one JSON-ready dict."""
    from ..jobs import resume_command
    from ..jobs.deps import shown_state
    from ..store import effective_counts, tasks_left

    counts = effective_counts(store.task_counts(job.id), running)
    left = tasks_left(counts)
    state = shown_state(job.spec, job.state, running)
    started, ended = store.job_span(job.id)
    finished = state != "running"
    end = (ended if finished else time.time()) if started is not None else None
    elapsed = None if started is None or end is None else max(0.0, end - started)
    n_done = sum(counts.get(k, 0) for k in ("done", "failed"))
    failed = store.load_tasks(job.id, states=["failed"])
    hint = resume_command(job.id, store.path)
    spec = job.spec
    from .call_detail import sched_part

    sched = sched_part(store, job)
    return {
        "id": job.id, "kind": "files", "name": job.name, "state": state, "pid": pid,
        "error": job.error, **sched,
        "created_at": job.created_at, "updated_at": job.updated_at, "started_at": started,
        "ended_at": ended if finished else None, "elapsed": elapsed,
        "files_per_s": round(n_done / elapsed, 3) if elapsed else None,
        "total": sum(counts.values()), "counts": counts, "left": left,
        "resume": hint if left and not running and state != "dependency failed" else None,
        "roots": (spec.get("filter") or {}).get("roots") or [],
        "filter": spec.get("filter") or {}, "action": spec.get("action") or {},
        "settings": spec.get("settings") or {}, "watch": spec.get("watch"),
        "failed": len(failed), "failures": _failures(store, failed[:FAILURES_SHOWN]),
        "log_failed": hint.replace("tui-batch resume", "tui-batch log", 1) + " --failed",
        "steps": _steps(store, job),
    }


def _steps(store: Store, job: JobRecord) -> list[dict[str, Any]] | None:
    """A pipeline's steps, in order: the action (its ``[[steps]]`` table) and the counts of
    its tasks by state (tasks are made as the previous step succeeds). None: one action."""
    raw = job.spec.get("steps")
    if not raw:
        return None
    counts = store.step_counts(job.id, len(raw))
    out = []
    for k, (table, c) in enumerate(zip(raw, counts, strict=False), 1):
        try:
            label = ActionSpec.from_dict({x: table[x] for x in ("name", "template", "shell",
                                                                "options") if x in table}).label
        except Exception:  # a step this version cannot read
            label = "?"
        out.append({"step": k, "action": label, "keep": table.get("keep", True),
                    "total": sum(c.values()), "counts": c, "spec": table})
    return out


def show_job(store: Store, job: JobRecord, running: bool, pid: int | None,
             as_json: bool) -> None:
    """Print one job: as text, or as one JSON object."""
    if job.spec.get("kind") == "call":
        from .call_detail import call_info, show_call

        call = call_info(store, job, running, pid)
        if as_json:
            click.echo(json.dumps(call))
        else:
            show_call(call)
        return
    info = job_info(store, job, running, pid)
    if as_json:
        click.echo(json.dumps(info))
        return
    name = f"  {info['name']}" if info["name"] else ""
    state = info["state"]
    if pid:
        state += f" (in process {pid})"
    echo = click.echo
    echo(f"job {job.id}{name}: {state}")
    if info["reason"]:  # the scheduler's word: what it waits for, why it did not run
        echo(f"  reason    {info['reason']}")
    elif info["error"]:
        echo(f"  error     {info['error']}")
    from .call_detail import sched_lines

    for line in sched_lines(info):
        echo(line)
    echo(f"  roots     {' '.join(display_path(r) for r in info['roots']) or '-'}")
    try:
        echo(f"  filter    {filter_flags(FilterSpec.from_dict(info['filter']))}")
        if info["steps"]:
            for st in info["steps"]:
                sc = st["counts"]
                parts = [f"{k} {v:,}" for k, v in sc.items() if v]
                keep = "" if st["keep"] else "  (output removed once used)"
                echo(f"  step {st['step']:<4} {st['action']}: {sc.get('done', 0):,}/"
                     f"{st['total']:,}" + (f" ({', '.join(parts)})" if parts else "") + keep)
        else:
            echo(f"  action    {ActionSpec.from_dict(info['action']).label}")
        settings = EngineSettings.from_dict(info["settings"])
        echo(f"  settings  {settings_text(settings)}")
        if settings.out_dir:
            echo(f"  out       {display_path(settings.out_dir)}")
    except Exception as exc:  # a spec this version cannot read: say so, show the rest
        echo(f"  spec      unreadable ({exc})")
    watch = info["watch"]
    if isinstance(watch, dict):
        bits = [f"{k} {_secs(v) if isinstance(v, int | float) and not isinstance(v, bool) else v}"
                for k, v in watch.items() if k in ("settle", "rescan")]
        bits += ["polling"] if watch.get("poll") else []
        echo(f"  watch     {', '.join(bits) or 'yes'} (tui-batch watch adds its tasks)")
    c = info["counts"]
    parts = [f"{k} {v:,}" for k, v in c.items() if v]
    echo(f"  tasks     {info['total']:,}" + (f": {', '.join(parts)}" if parts else ""))
    echo(f"  created   {_when(info['created_at'])}")
    echo(f"  started   {_when(info['started_at'])}")
    if info["ended_at"] is not None:
        echo(f"  ended     {_when(info['ended_at'])}")
    if info["elapsed"] is not None:
        rate = info["files_per_s"]
        per = f", {rate:,.1f} files/s" if rate is not None else ""
        echo(f"  elapsed   {fmt_duration(info['elapsed'])}{per}")
    if info["resume"]:
        echo(f"  resume    {info['resume']}  ({info['left']:,} left)")
    if info["failed"]:
        echo(f"failures ({info['failed']:,}):")
        for f in info["failures"]:
            why = f["why"] or f["error"] or "failed"
            line = f["last_stderr"]
            text = f"{why}: {line}" if line and line != why else why
            if len(text) > 200:
                text = text[:199] + "…"
            echo(f"  task {f['task']}  {display_path(f['path'])}: {text}")
        more = info["failed"] - len(info["failures"])
        if more > 0:
            echo(f"  ... and {more:,} more ({info['log_failed']})")
