"""`tui-batch pause|cancel|workers|priority JOB ...`: control a job running in another process.

Why a module of its own: a job runs inside whatever process started it (a foreground `run`,
the TUI, the service), and these commands reach it from any shell through the job's control
socket (:mod:`tui_batch.control`). Each is one short round trip, so it answers at once; when
nobody serves the job, the store says why (unknown job: exit 2; not running: exit 1, with the
command that would run it). :func:`reach` and :func:`not_reachable` are shared with
:mod:`.retry_cmd`, :mod:`.wait_cmd` and `resume` (which un-pauses a running job).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..errors import ControlError
from ..jobs import EXIT_FAILED, resume_command
from .context import CONTEXT

if TYPE_CHECKING:
    from ..control import ControlClient
    from ..store import JobRecord, Store

__all__ = ["cancel_cmd", "control_call", "not_reachable", "not_running_message", "pause_cmd",
           "priority_cmd", "reach", "retry_command", "say", "unpause_if_running", "workers_cmd"]

_SOCKET_GRACE = 1.0
"""Seconds to wait for the socket of a job whose run lock is held but which serves none yet
(its process is starting: the lock is taken before the socket is up)."""

db_option = click.option("--db", metavar="PATH", help="Job store (default: user data folder).")
json_option = click.option("--json", "as_json", is_flag=True, help="Answer as one JSON object.")


def say(as_json: bool, text: str, obj: dict[str, Any]) -> None:
    """The answer of a control command: ``text`` for a person, or ``obj`` as one JSON line."""
    click.echo(json.dumps(obj) if as_json else text)


def _connect(path: str, job_id: int) -> ControlClient | None:
    from ..control import connect

    try:
        return connect(path, job_id, timeout=2.0)
    except ControlError as e:
        _refuse(job_id, str(e))


def _refuse(job_id: int, message: str) -> NoReturn:
    """The job's socket would not talk to us (permission, version, a refused op): exit 1."""
    click.echo(f"tui-batch: error: job {job_id}: {message}", err=True)
    sys.exit(EXIT_FAILED)


def reach(db: str | None, job_id: int) -> ControlClient | None:
    """A client connected to job ``job_id``'s control socket, or None when no process serves
    it (the caller then asks the store why: :func:`not_reachable`)."""
    from ..model.dbpath import resolve_path  # not the store: this path must stay light

    return _connect(resolve_path(db), job_id)


def control_call(client: ControlClient, job_id: int, op: str, **args: Any) -> dict[str, Any]:
    """One request on an open client (closed afterwards); a refusal is one line and exit 1."""
    try:
        with client:
            return client.call(op, **args)
    except (ControlError, OSError) as e:
        _refuse(job_id, str(e) or type(e).__name__)


def retry_command(job_id: int, db_path: str | None) -> str:
    """``tui-batch retry ID`` with ``--db`` when the store is not the default one."""
    return resume_command(job_id, db_path).replace("tui-batch resume", "tui-batch retry", 1)


def not_running_message(store: Store, job: JobRecord, running: bool, pid: int | None) -> str:
    """Why a job cannot be controlled, and what would run it: for a person, one line."""
    from ..store import effective_state

    job_id = job.id
    if running:
        who = f"process {pid}" if pid else "another process"
        return (f"job {job_id} is running in {who}, which serves no control socket (a Python "
                "Batch host controls its own jobs)")
    state = effective_state(job.state, running)
    text = f"job {job_id} is not running ({state})"
    if job.spec.get("kind") == "call":
        return text + ": its host program runs it (Batch.resume_unfinished())"
    if state in ("failed", "cancelled"):
        return text + f": run its failed tasks again with `{retry_command(job_id, store.path)}`"
    if state not in ("done", "dependency failed"):
        return text + f": resume it with `{resume_command(job_id, store.path)}`"
    return text


def not_reachable(db: str | None, job_id: int, as_json: bool = False) -> ControlClient:
    """No socket answered for ``job_id``: exit 2 if there is no such job, else say why it
    cannot be controlled (not running, or run by a host without a socket) and exit 1. A job
    whose process is starting (its lock is taken before its socket is up) gets a moment: its
    client is returned when the socket comes up."""
    from ..store import effective_state, job_liveness
    from .log import load_job

    store, job = load_job(db, job_id)
    try:
        running, pid = job_liveness(store, job_id, spec=job.spec, state=job.state)
        deadline = time.monotonic() + _SOCKET_GRACE
        while running and time.monotonic() < deadline:
            time.sleep(0.05)
            client = _connect(store.path, job_id)
            if client is not None:
                return client
            running, pid = job_liveness(store, job_id, spec=job.spec, state=job.state)
        message = not_running_message(store, job, running, pid)
        if as_json:
            click.echo(json.dumps({"job": job_id, "running": running,
                                   "state": effective_state(job.state, running),
                                   "error": message}))
    finally:
        store.close()
    click.echo(f"tui-batch: {message}", err=True)
    sys.exit(EXIT_FAILED)


def unpause_if_running(db: str | None, job_id: int, as_json: bool,
                       workers: int | None = None) -> bool:
    """`resume JOB` of a job running elsewhere: un-pause it through its socket (and set its
    worker count when ``workers`` is given); False when no process serves the job (then
    `resume` finishes it here, as after a crash)."""
    if workers is not None:
        from ..model.limits import CLI_WORKERS

        CLI_WORKERS.check(workers)
    from ..control import connect
    from ..model.dbpath import resolve_path

    try:
        client = connect(resolve_path(db), job_id, timeout=2.0)
    except ControlError:
        client = None  # no socket to talk to: the run lock still keeps it from running twice
    if client is None:
        return False
    with client:
        try:
            before = bool(client.call("snapshot").get("paused"))
            if workers is not None:
                client.call("workers", n=workers)
            client.call("resume")
        except (ControlError, OSError) as e:
            _refuse(job_id, str(e) or type(e).__name__)
    text = (f"job {job_id} resumed: tasks start again" if before
            else f"job {job_id} is running (it was not paused)")
    if workers is not None:
        text += f", on {workers} worker{'s' if workers != 1 else ''}"
    obj: dict[str, Any] = {"job": job_id, "paused": False, "was_paused": before}
    if workers is not None:
        obj["workers"] = workers
    say(as_json, text, obj)
    return True


def _client_or_exit(db: str | None, job_id: int, as_json: bool) -> ControlClient:
    return reach(db, job_id) or not_reachable(db, job_id, as_json)


@click.command("pause", context_settings=CONTEXT,
               short_help="Pause a running job: no new task starts.")
@click.argument("job_id", metavar="JOB", type=int)
@db_option
@json_option
def pause_cmd(job_id: int, db: str | None, as_json: bool) -> None:
    """Pause job JOB, running in any process: no new task starts, running ones finish.
    `tui-batch resume JOB` starts tasks again. Exit 1 when the job is not running."""
    from ..model.dbpath import resolve_path

    client = _client_or_exit(db, job_id, as_json)
    control_call(client, job_id, "pause")
    hint = resume_command(job_id, resolve_path(db))
    say(as_json, f"job {job_id} paused: no new task starts, running ones finish (`{hint}` "
                 "starts them again)", {"job": job_id, "paused": True})


@click.command("cancel", context_settings=CONTEXT,
               short_help="Cancel a running job, or some of its tasks.")
@click.argument("job_id", metavar="JOB", type=int)
@click.argument("tasks", metavar="[TASK_ID|PATH]...", nargs=-1)
@db_option
@json_option
def cancel_cmd(job_id: int, tasks: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Cancel job JOB, running in any process: waiting tasks never start, running ones are
    stopped (SIGTERM, then SIGKILL after the grace period); the job ends `cancelled`. With
    tasks (ids, or paths as `tui-batch log` takes them), only those. Exit 1 when the job is
    not running."""
    ids = _task_ids(db, job_id, tasks) if tasks else None
    client = _client_or_exit(db, job_id, as_json)
    answer = control_call(client, job_id, "cancel", tasks=ids)
    n = int(answer.get("cancelled") or 0)
    if ids is None:
        text = f"job {job_id} cancelled ({_tasks(n)} cancelled)"
    else:
        ended = len(ids) - n
        text = f"job {job_id}: {_tasks(n)} cancelled" + (
            f" ({_tasks(ended)} had already ended)" if ended > 0 else "")
    say(as_json, text, {"job": job_id, "cancelled": n, "tasks": ids})


def _task_ids(db: str | None, job_id: int, args: Sequence[str]) -> list[int]:
    from .log import load_job, resolve_tasks

    store, _job = load_job(db, job_id)
    try:
        return [t.id for t in resolve_tasks(store, job_id, args)]
    finally:
        store.close()


def _tasks(n: int) -> str:
    return f"{n} task{'s' if n != 1 else ''}"


@click.command("workers", context_settings=CONTEXT,
               short_help="Change the worker count of a running job.")
@click.argument("job_id", metavar="JOB", type=int)
@click.argument("n", metavar="N", type=int)
@db_option
@json_option
def workers_cmd(job_id: int, n: int, db: str | None, as_json: bool) -> None:
    """Run job JOB, running in any process, on N workers from now on (1 to 1024; lowering it
    lets running tasks finish). Exit 1 when the job is not running."""
    from ..model.limits import CLI_WORKERS

    CLI_WORKERS.check(n, "N")
    client = _client_or_exit(db, job_id, as_json)
    answer = control_call(client, job_id, "workers", n=n)
    now = int(answer.get("workers") or n)
    say(as_json, f"job {job_id}: {now} worker{'s' if now != 1 else ''}",
        {"job": job_id, "workers": now})


@click.command("priority", context_settings=CONTEXT,
               short_help="Change the priority of a running job's waiting tasks.")
@click.argument("job_id", metavar="JOB", type=int)
@click.argument("priority", metavar="P")
@db_option
@json_option
def priority_cmd(job_id: int, priority: str, db: str | None, as_json: bool) -> None:
    """Give the waiting tasks of job JOB, running in any process, priority P (low, normal,
    high or urgent). Exit 1 when the job is not running."""
    from ..model import Priority

    level = Priority.parse(priority, "P").name.lower()
    client = _client_or_exit(db, job_id, as_json)
    answer = control_call(client, job_id, "priority", priority=level)
    now = str(answer.get("priority") or level)
    n = int(answer.get("tasks") or 0)
    say(as_json, f"job {job_id}: {_tasks(n)} waiting now {now}",
        {"job": job_id, "priority": now, "tasks": n})
