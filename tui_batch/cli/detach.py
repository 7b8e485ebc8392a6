"""`tui-batch run ... --detach` and `tui-batch watch ... --detach`: store the job here, hand
it to the per-user service, print its id at once.

The scan runs in this process (same user, same folder, same environment as the command the
user typed); roots are made absolute first, so that the service, which runs in its own
folder, finds the same files. The service is started if it is not running (first use). With
``--after JOB`` the job is stored with its links and waits in the service; ``--group NAME``
must name a group made with `tui-batch group add` (exit 2 otherwise). Once the service has
taken the job, the shell that started it may go: the job runs until it ends, or until
`tui-batch service stop` (then it is interrupted and resumable).

A watch is handed over the same way, with ``kind: "watch"`` and its settings (its job is
opened here under the watch lock, so a watch already running elsewhere is refused at once);
in the service it keeps watching until `service stop` (or a stop of its own through its job's
socket), under the same limit, group and priority order as every other job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from ..errors import ControlError
from ..jobs import resume_command
from ..model import JobSpec
from .options import fail
from .stores import open_store
from .task_output import OutputChoice

__all__ = ["attach_command", "check_detach_flags", "run_detached"]

Create = Callable[..., "int | None"]


def attach_command(job_id: int, db: str) -> str:
    """``tui-batch attach ID`` plus ``--db PATH`` when the store is not the default one."""
    return resume_command(job_id, db).replace("tui-batch resume", "tui-batch attach", 1)


def run_detached(spec: JobSpec, db: str | None, *, as_json: bool, group: str | None,
                 after: tuple[int, ...], create: Create,
                 watch: dict[str, Any] | None = None) -> int:
    """Store the job (``create(store, spec, as_json=, dry_run=False)``: the plan and its
    progress as `run` prints them) and hand it to the service; the exit code. ``watch``:
    the job is a watch with these settings (:func:`tui_batch.watch.handoff.watch_entry`)."""
    from ..service import ServiceRefused, service_socket, start_background
    from .after_wait import check_after, store_after
    from .service_cmd import check_group

    spec.filter.roots = [os.path.abspath(os.path.expanduser(r)) for r in spec.filter.roots]
    try:
        client, started = start_background()
    except ControlError as exc:
        click.echo(f"tui-batch: error: cannot start the service: {exc}", err=True)
        return 1
    with client:
        if started and not as_json:
            click.echo(f"tui-batch: service started (pid {client.pid})", err=True)
        check_group(group)
        store = open_store(db)
        try:
            deps = check_after(store, after) if after else ()
            job_id = create(store, spec, as_json=as_json, dry_run=False)
            if job_id is None:
                return 0
            if deps:
                store_after(store, job_id, deps, int(spec.settings.priority))
            path = store.path
        finally:
            store.close()
        try:
            extra: dict[str, Any] = {} if watch is None else {"kind": "watch", "watch": watch}
            answer = client.call("submit", timeout=60.0, db=os.path.realpath(path),
                                 job_id=job_id, group=group, **extra)
        except ControlError as exc:
            wrong = exc.as_input_error() if isinstance(exc, ServiceRefused) else None
            if wrong is not None:
                raise wrong from None
            again = ("run the same `tui-batch watch` command again" if watch is not None
                     else f"run it with: {resume_command(job_id, path)}")
            click.echo(f"tui-batch: error: job {job_id} is stored but the service did not "
                       f"take it: {exc}; {again}", err=True)
            return 1
    state = answer.get("state", "running")
    attach = attach_command(job_id, path)
    kind = "run" if watch is None else "watch"
    if as_json:
        click.echo(json.dumps({"event": "detached", "job": job_id, "db": path, "state": state,
                               "kind": kind, "group": group, "service_pid": client.pid,
                               "service_socket": str(service_socket()), "attach": attach}))
    else:
        where = "waiting in the background" if state == "waiting" else \
            "watching in the background" if watch is not None else "running in the background"
        what = "watch job" if watch is not None else "job"
        click.echo(f"{what} {job_id} {where}; attach with: {attach}")
    return 0


def check_detach_flags(detach: bool, group: str | None, choice: OutputChoice) -> None:
    """What cannot go with ``--detach`` (exit 2): ``--group`` without it (groups are the
    service's), and the flags that print task output here (it stays in the job's log)."""
    if group is not None and not detach:
        fail("--group", "groups are the service's: add --detach")
    if choice != OutputChoice():
        fail("--detach", "a detached job prints nothing here, so -k, --tag, --quiet and "
                         "--results do not apply (read its output with: tui-batch log JOB)")
