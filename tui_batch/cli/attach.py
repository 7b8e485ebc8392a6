"""`tui-batch attach JOB`: the full dashboard of a job that runs in another process.

Why a command of its own: a job runs wherever it was started (a foreground `run` in another
terminal, the TUI, the service), and a user on a second terminal or a new SSH session wants
its dashboard, not a progress line. The dashboard here is a viewer of that job's control
socket (:class:`~tui_batch.control.remote.RemoteRunner`): its keys pause, cancel, retry and
change workers or priorities of the job itself; several viewers may be attached at once; and
leaving (q, Esc, a closed terminal) only closes this viewer: the job goes on. A job nobody
serves is refused with the same words as `tui-batch pause` (exit 1; exit 2 for no such job).
"""

from __future__ import annotations

import sys

import click

from ..errors import ControlError
from ..jobs import EXIT_USAGE
from .context import CONTEXT
from .control_cmds import db_option, not_reachable, reach

__all__ = ["attach_cmd"]


@click.command("attach", context_settings=CONTEXT,
               short_help="Open the dashboard of a job running elsewhere.")
@click.argument("job_id", metavar="JOB", type=int)
@db_option
def attach_cmd(job_id: int, db: str | None) -> None:
    """Show the live dashboard of job JOB, running in any process (another terminal's
    `run`, the TUI, the service). Its keys control that job (pause, cancel, retry failed,
    workers, priority); q or Esc detaches and the job goes on. Exit 0 when detached or when
    the job ended well, 1 when it is not running (or ended with failures)."""
    from ..store import Store

    path = Store.resolve_path(db)
    client = reach(path, job_id) or not_reachable(path, job_id)
    client.close()  # the dashboard opens its own (asyncio) connection
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        click.echo("tui-batch: error: attach needs a terminal (use `tui-batch wait "
                   f"{job_id}` or `tui-batch log -f {job_id}` in a script)", err=True)
        sys.exit(EXIT_USAGE)
    from ..ui import run_tui

    code = run_tui(job_id=job_id, db=path, start="attach")
    click.echo(f"tui-batch: {_after(path, job_id)}", err=True)
    sys.exit(code)


def _after(path: str, job_id: int) -> str:
    """What the viewer's exit leaves behind: a job still running, or how it ended."""
    from ..control import connect
    from ..store import Store

    try:
        client = connect(path, job_id, timeout=1.0)
    except ControlError:
        client = None
    if client is not None:
        client.close()
        return f"detached; the job goes on (`tui-batch attach {job_id}` shows it again)"
    with Store(path, readonly=True) as store:
        state = store.get_job(job_id).state
    return f"job {job_id} ended: {state}"
