"""`tui-batch service start|stop|status` and `tui-batch group add|set|list|remove`: the
per-user service that runs detached jobs (:mod:`tui_batch.service`).

`service start` daemonises (or runs in the foreground with ``--foreground``, for a systemd
user unit) and returns once the socket answers; a service already running is said, exit 0
(with ``--workers`` its limit is changed live). `service stop` stops every job resumably and
waits until the process is gone. `service status` prints the socket, the global limit and the
running jobs (exit 1 when no service runs, so scripts can test it). Groups are the service's:
`group add` starts the service if it is not running, as a first `--detach` would.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import ControlError, InputError
from .options import CONTEXT, fail

__all__ = ["group_cmd", "service_cmd"]


def _workers_option(required: bool = False) -> Any:
    return click.option("--workers", "-j", "workers", type=int, required=required,
                        metavar="N", help="Tasks the service runs at once, over all its jobs "
                                          "(default: one per CPU)." if not required else
                                          "Tasks this group runs at once.")


def _refused(exc: ControlError) -> None:
    """A service answer that is a user mistake: exit 2 naming the field; else exit 1."""
    from ..service import ServiceRefused

    if isinstance(exc, ServiceRefused) and exc.field:
        raise InputError(exc.field, exc.message) from None
    click.echo(f"tui-batch: error: {exc}", err=True)
    sys.exit(1)


@click.group("service", context_settings=CONTEXT)
def service_cmd() -> None:
    """The per-user service that runs detached jobs (`run --detach`): one worker limit and
    one priority order for all its jobs, surviving SSH disconnects."""


@service_cmd.command("start", context_settings=CONTEXT)
@_workers_option()
@click.option("--foreground", is_flag=True,
              help="Run in this process (for a systemd user unit) instead of daemonising.")
def start_cmd(workers: int | None, foreground: bool) -> None:
    """Start the service (it also starts on first use)."""
    from ..service import (
        AlreadyRunning,
        check_workers,
        connect_service,
        run_foreground,
        service_socket,
        start_background,
    )

    if workers is not None:
        check_workers(workers)
    if foreground:
        try:
            sys.exit(run_foreground(workers))
        except AlreadyRunning as exc:
            click.echo(f"tui-batch: {exc}", err=True)
            sys.exit(0)
    try:
        client = connect_service()
        started = False
        if client is None:
            client, started = start_background(workers)
        with client:
            if started:
                click.echo(f"tui-batch: service started (pid {client.pid}, socket "
                           f"{service_socket()})")
                return
            msg = f"tui-batch: service already running (pid {client.pid})"
            if workers is not None:
                msg += f"; global limit now {client.call('workers', n=workers)['workers']}"
            click.echo(msg)
    except ControlError as exc:
        _refused(exc)


@service_cmd.command("stop", context_settings=CONTEXT)
def stop_cmd() -> None:
    """Stop the service: its running jobs are stopped resumably (finish them with `tui-batch
    resume JOB`); waits until it has exited."""
    from ..service import connect_service, stop_service

    try:
        client = connect_service()
        if client is None:
            click.echo("tui-batch: service is not running")
            return
        with client:
            pid = client.pid
            n = stop_service(client)
    except ControlError as exc:
        _refused(exc)
        return
    jobs = f"; {n} job{'s' if n != 1 else ''} stopped (resumable)" if n else ""
    click.echo(f"tui-batch: service stopped (pid {pid}){jobs}")


@service_cmd.command("status", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def status_cmd(as_json: bool) -> None:
    """Socket path, global limit, groups and running jobs (exit 1 when not running)."""
    from ..service import connect_service, service_socket

    try:
        client = connect_service()
        if client is None:
            if as_json:
                click.echo(json.dumps({"running": False, "socket": str(service_socket())}))
            else:
                click.echo(f"tui-batch: service is not running (socket {service_socket()})")
            sys.exit(1)
        with client:
            st = client.call("status")
    except ControlError as exc:
        _refused(exc)
        return
    st.pop("id", None)
    st.pop("ok", None)
    if as_json:
        click.echo(json.dumps({"running": True, **st}))
        return
    _print_status(st)


def _print_status(st: dict[str, Any]) -> None:
    from .progress import display_path

    click.echo(f"service: running (pid {st['pid']})")
    click.echo(f"socket:  {st['socket']}")
    click.echo(f"workers: {st['running_tasks']} of {st['workers']} running")
    for g in st.get("groups") or ():
        click.echo(f"group {g['name']}: {g['running']} of {g['workers']} running")
    jobs = st.get("jobs") or []
    if not jobs:
        click.echo("jobs:    none")
        return
    click.echo(f"jobs:    {len(jobs)}")
    for j in jobs:
        s = j.get("stats") or {}
        counts = (f"{s.get('done', 0) + s.get('skipped', 0)}/{s.get('total', 0)} done, "
                  f"{s.get('running', 0)} running, {s.get('failed', 0)} failed"
                  if s else (j.get("reason") or ""))
        name = f" {j['name']!r}" if j.get("name") else ""
        group = f" [group {j['group']}]" if j.get("group") else ""
        state = j["state"]
        what = "watch job" if j.get("kind") == "watch" else "job"
        w = j.get("watch")
        if w:  # a running watch: what it took in this session, and how it notices changes
            state = f"watching ({w['mode']})" if state == "running" else state
            counts = f"{w['seen']} seen, {w['settling']} settling; {counts}"
        click.echo(f"  {what} {j['job_id']}{name}{group}: {state}; {counts} "
                   f"({display_path(j['db'])})")


@click.group("group", context_settings=CONTEXT)
def group_cmd() -> None:
    """Named groups of the service, each with its own worker limit inside the global one
    (`run --detach --group NAME`)."""


def _call(op: str, **args: Any) -> dict[str, Any]:
    from ..service import start_background

    try:
        client, _started = start_background()
        with client:
            return client.call(op, **args)
    except ControlError as exc:
        _refused(exc)
        raise AssertionError from None  # unreachable: _refused exits


@group_cmd.command("add", context_settings=CONTEXT)
@click.argument("name")
@_workers_option(required=True)
def group_add_cmd(name: str, workers: int) -> None:
    """Make group NAME, running at most N of its tasks at once."""
    from ..service import check_group_name, check_workers

    check_group_name(name)
    check_workers(workers)
    g = _call("group_add", name=name, workers=workers)["group"]
    click.echo(f"group {g['name']}: {g['workers']} workers")


@group_cmd.command("set", context_settings=CONTEXT)
@click.argument("name")
@_workers_option(required=True)
def group_set_cmd(name: str, workers: int) -> None:
    """Change the worker limit of group NAME (live)."""
    from ..service import check_workers

    check_workers(workers)
    g = _call("group_set", name=name, workers=workers)["group"]
    click.echo(f"group {g['name']}: {g['workers']} workers")


@group_cmd.command("remove", context_settings=CONTEXT)
@click.argument("name")
def group_remove_cmd(name: str) -> None:
    """Remove group NAME (refused while jobs of it run)."""
    _call("group_remove", name=name)
    click.echo(f"group {name} removed")


@group_cmd.command("list", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def group_list_cmd(as_json: bool) -> None:
    """The groups, their limits and their running tasks."""
    groups = _call("groups")["groups"]
    if as_json:
        click.echo(json.dumps({"groups": groups}))
        return
    if not groups:
        click.echo("no groups (make one with: tui-batch group add NAME --workers N)")
    for g in groups:
        jobs = ", ".join(str(j) for j in g["jobs"]) or "none"
        click.echo(f"{g['name']}: {g['workers']} workers, {g['running']} running; jobs: {jobs}")


def check_group(name: str | None) -> None:
    """``--group NAME`` of `run --detach`: the group must exist in the service (exit 2)."""
    if name is None:
        return
    groups = {g["name"] for g in _call("groups")["groups"]}
    if name not in groups:
        fail("--group", f"no group {name!r} (make it with: tui-batch group add {name} "
                        "--workers N)")
