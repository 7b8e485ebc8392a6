"""The Textual TUI: one client of the core (the only package that imports Textual).

The CLI imports this lazily, only to open the TUI, so headless runs never load Textual.

Layout: :mod:`.app` (the App: routing, the store, quit and exit codes; the one module that
knows the screen classes), :mod:`.navigation` (what screens may ask of the app), ``screens/``
(one per screen; a screen imports no other screen and not the app), ``dialogs/`` (one modal per
module), ``widgets/`` (reusable widgets: the virtual table and its row model, the task list and
log, the stats panel, the live file count), and the non-widget logic the screens use: the job's
run (:mod:`.job_run`) and what the dashboard shows of it (:mod:`.dashboard_view`), the form's
fields (:mod:`.form_layout`) and their mapping to a spec (:mod:`.form_spec`, :mod:`.validation`),
the engine bridge (:mod:`.messages`), formatting, the clock and run-lock wording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import JobSpec

__all__ = ["run_tui"]


def run_tui(
    *,
    root: str | None = None,
    spec: JobSpec | None = None,
    job_id: int | None = None,
    db: str | None = None,
    start: str = "form",
    watch: dict[str, object] | None = None,
) -> int:
    """Open the TUI and return the process exit code.

    ``start``: ``form`` (filter form; ``root`` / ``spec`` prefill it; ``demo`` is the same with
    the demo spec), ``run`` (plan ``spec``, create the job, open its dashboard running),
    ``resume`` (dashboard of ``job_id``, running), ``attach`` (dashboard of ``job_id``,
    running in another process), ``jobs`` (the jobs screen), ``watch``
    (dashboard of a watch of ``spec``; ``watch`` holds the Watcher's keyword arguments).
    Exit codes: 0 all tasks succeeded (or nothing ran), 1 some failed or were cancelled,
    130 quit while work remained (the job stays resumable).
    """
    from .app import BatchApp, run_app

    if start not in ("form", "run", "resume", "jobs", "demo", "watch", "attach"):
        raise ValueError(f"unknown start screen {start!r}")
    if start in ("run", "watch") and spec is None:
        raise ValueError(f"start={start!r} needs a spec")
    if start in ("resume", "attach") and job_id is None:
        raise ValueError(f"start={start!r} needs a job_id")
    app = BatchApp(root=root, spec=spec, job_id=job_id, db=db,
                   start=start, watch=watch)  # type: ignore[arg-type]
    return run_app(app)
