"""Leaving the dashboard of a job this TUI handed to the per-user service.

Why a module of its own: the app routes and asks (:class:`~.dialogs.leave_job.LeaveJobDialog`);
what each answer means is here. Leaving exits 0 and, once the terminal is back, says how to
attach again; stopping stops the job itself (saved, resumable) and exits as a quit of a
running job always has (130 while work is left). When the service could not take a job, it
runs in this process, and :func:`service_refused` says so once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..jobs import EXIT_OK, resume_command
from .widgets.stats_panel import StatsPanel

if TYPE_CHECKING:
    from .app import BatchApp
    from .screens.dashboard import DashboardScreen

__all__ = ["attach_command", "leave_or_stop", "service_refused"]


def attach_command(job_id: int, db: str) -> str:
    """``tui-batch attach N`` (with ``--db PATH`` when the store is not the default one)."""
    return resume_command(job_id, db).replace("tui-batch resume", "tui-batch attach", 1)


async def leave_or_stop(app: BatchApp, dashboard: DashboardScreen, choice: str | None) -> None:
    """Do what the user chose: ``leave`` (exit 0; the job goes on), ``stop`` (the job is
    stopped, resumable; exit with its code), None (stay)."""
    job = dashboard.job
    if choice == "leave" and (dashboard.running or job.handing_over):
        what = "watch job" if dashboard.live_rows else "job"
        app.farewell = (f"{what} {job.job_id} running in the background; attach with: "
                        f"{attach_command(job.job_id, app.store.path)}")
        app.exit(EXIT_OK)
    elif choice == "leave":  # it ended while the question was open: quit as after any end
        app.exit(app.last_exit_code)
    elif choice == "stop":
        for panel in dashboard.query(StatsPanel):
            panel.show_state("stopping")
        while job.handing_over:  # its run starts in the loop turn the hand-over ends in
            await asyncio.sleep(0.02)
        await job.stop_job_and_wait()
        app.exit(job.final_exit_code())


def service_refused(dashboard: DashboardScreen, text: str) -> None:
    """The service could not take the dashboard's job: it runs in this process."""
    dashboard.sub_title = f"job {dashboard.job_id}"
    dashboard.app.notify(text, severity="warning", title="Running here", timeout=10,
                         markup=False)
