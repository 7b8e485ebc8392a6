"""What the dashboard shows of its job, kept in step with the engine.

The dashboard screen reacts to the user (keys, dialogs, toasts, starting and stopping runs);
this module owns the picture: it builds the statistics panel, the task list and the log pane,
and turns the job's state (:class:`~tui_batch.ui.job_run.JobRun`, the engine behind it) into
what they show: the state word, the counters, the rows and the list's title, the selected
task's log. It reads the job and never changes it, and it never talks to the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical

from .history import JobHistory
from .job_run import JobRun, RunOutcome
from .widgets.stats_panel import StatsPanel
from .widgets.task_list import TaskList
from .widgets.task_log import TaskLog

if TYPE_CHECKING:
    from ..engine.events import Stats
    from ..store import Store
    from .clock import Clock

FINAL_STATES = frozenset({"done", "failed", "cancelled"})
"""Stored job states a dashboard opened on a finished job shows as they are."""


class DashboardView:
    """The dashboard's widgets and how the job's state is drawn on them."""

    def __init__(self, job: JobRun, store: Store, *, live_rows: bool) -> None:
        self.job = job
        """The job shown (read only)."""
        self.live_rows = live_rows
        """Watch mode: tasks keep arriving (and old finished ones leave), so the list is
        re-read from the engine every second."""
        self.stats_panel: StatsPanel
        """Counters, progress, rates and the state word (built by :meth:`compose`, which
        knows the app's clock)."""
        self.tasks_box = Vertical(id="tasks-box")
        """The task list's frame (its border title says the filter)."""
        self.task_list = TaskList(id="tasks")
        """Every task of the job."""
        self.log = TaskLog(store, self.selected_task, self._max_attempts, id="log")
        """The task under the cursor, in detail."""

    def compose(self, clock: Clock) -> ComposeResult:
        """The widgets, as the screen lays them out between its header and footer."""
        self.stats_panel = StatsPanel(clock, id="stats")
        yield self.stats_panel
        with self.tasks_box:
            yield self.task_list
        yield self.log

    def _max_attempts(self) -> int:
        runner = self.job.runner
        return (runner.spec.settings.retries if runner is not None else 0) + 1

    def selected_task(self) -> Any:
        """The task under the cursor (engine Task), or None."""
        return self.task_list.cursor_item

    # ------------------------------------------------------------------ states
    def mounted(self) -> None:
        """The screen is up: nothing loaded yet."""
        self.tasks_box.border_title = "Tasks: all"
        self.log.show_task(None)
        self.stats_panel.show_state("loading")
        self.task_list.focus()

    def loaded(self, engine: Any) -> None:
        """The runner is built: list its tasks, show its counters."""
        self.task_list.set_rows(list(engine.tasks.values()))
        self.show_title()
        self.show_stats(engine.snapshot())

    def history_loaded(self, history: JobHistory) -> None:
        """A job opened from the jobs screen: its past runs' elapsed time, and its stored
        state (as the jobs list says it) while it has not run here."""
        panel = self.stats_panel
        panel.elapsed_before += history.elapsed
        idle = not self.job.running and self.job.run_exit_code is None
        if idle and history.state in FINAL_STATES and self.job.idle_state() != "ready":
            panel.state_text = history.state
        panel.refresh_text()

    def run_started(self) -> None:
        """A run starts now."""
        self.stats_panel.state_text = "paused" if self.job.engine.paused else "running"
        self.stats_panel.start_run()

    def run_finished(self, outcome: RunOutcome, stats: Stats) -> None:
        """The run ended: freeze the clock, say how it ended, show the final rows."""
        self.stats_panel.end_run()
        self.stats_panel.state_text = outcome.state
        self.show_stats(stats)
        self.rows_changed()
        self.update_log()

    # ----------------------------------------------------------- engine -> UI
    def show_stats(self, stats: Stats) -> None:
        """New counters; while a run goes the state word follows pause / resume."""
        panel = self.stats_panel
        if self.job.running and not self.job.stopping:
            panel.state_text = "paused" if stats.paused else "running"
        panel.update_stats(stats)

    def stats_updated(self, stats: Stats) -> None:
        """Counters from the bridge: the engine's counters now, the message's snapshot may be
        older than the rows (a TasksChanged handled after it was taken showed newer ones)."""
        engine = self.job.engine
        self.show_stats(engine.snapshot() if engine is not None else stats)

    def tasks_changed(self, task_ids: frozenset[int]) -> None:
        """These tasks changed: their rows, the title, the counters as of these rows (not up
        to 0.25 s older) and the log if it shows one of them."""
        self.task_list.tasks_changed(task_ids)
        self.show_title()
        engine = self.job.engine
        if engine is not None:
            self.show_stats(engine.snapshot())
        if self.log.task_id is not None and self.log.task_id in task_ids:
            self.update_log()

    def paused(self, paused: bool) -> None:
        """The engine paused or resumed: the ETA says so at once, not at the next tick."""
        self.stats_panel.state_text = "paused" if paused else "running"
        engine = self.job.engine
        if engine is not None:
            self.stats_panel.update_stats(engine.snapshot())
        else:
            self.stats_panel.refresh_text()

    def tick(self) -> None:
        """Once a second: elapsed clock; in watch mode, the rows that arrived or left."""
        if self.job.running:
            self.stats_panel.refresh_text()
        engine = self.job.engine
        if self.live_rows and engine is not None and self.task_list.follow(engine):
            self.show_title()

    def rows_changed(self) -> None:
        """Tasks were queued again, or the run ended: recompute the list's view."""
        self.task_list.rebuild()
        self.show_title()

    def show_title(self) -> None:
        """The list's title: its status filter and how many rows it lists right now."""
        status = self.task_list.status_filter
        engine = self.job.engine
        counted = None
        if status is not None and self.live_rows and engine is not None:
            counted = getattr(engine.snapshot(), status, 0)
        title = self.task_list.title(counted if isinstance(counted, int) else None)
        if self.tasks_box.border_title != title:
            self.tasks_box.border_title = title

    # ------------------------------------------------------------------- log
    def update_log(self) -> None:
        """Show the selected task in the log pane."""
        self.log.follow(self.job.engine)

    def refresh_live_output(self) -> None:
        """Twice a second: the selected running task's output so far."""
        self.log.refresh_live(self.job.engine)
