"""What the dashboard shows of its job, kept in step with the engine.

The dashboard screen reacts to the user (keys, dialogs, toasts, starting and stopping runs);
this module owns the picture: it builds the statistics panel (and, for a watch, the watch
header), the task list with its name filter bar and the log pane, and turns the job's state
(:class:`~tui_batch.ui.job_run.JobRun`, the engine behind it) into what they show: the state
word, the counters, the rows and the list's title, the selected task's log. It reads the job
and never changes it, and it never talks to the user.

A big job is shown before it is loaded: the first screenful of rows and the counts come from
the store in milliseconds (:meth:`DashboardView.preview`), the engine's live tasks replace
them when the runner is built (:meth:`DashboardView.loaded`), the cursor staying on its row.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical

from ..engine.events import Stats
from .history import JobHistory
from .job_run import JobRun, RunOutcome
from .step_counts import step_names, steps_line
from .widgets.filter_bar import FilterBar
from .widgets.stats_panel import StatsPanel
from .widgets.task_list import TaskList
from .widgets.task_log import TaskLog
from .widgets.watch_header import WatchHeader

if TYPE_CHECKING:
    from ..store import Store
    from .clock import Clock

FINAL_STATES = frozenset({"done", "failed", "cancelled"})
"""Stored job states a dashboard opened on a finished job shows as they are."""

PREVIEW_ROWS = 200
"""Rows read from the store before the runner is built: more than any terminal shows."""

LIST_KEYS = "f status · / name"
"""The task list's keys, said on its frame (the footer may have no room for them)."""


def stats_from_counts(counts: dict[str, int]) -> Stats:
    """The counters of a job as the store has them (before its engine exists)."""
    return Stats(
        total=sum(counts.values()),
        queued=counts.get("queued", 0) + counts.get("interrupted", 0),  # queued again
        running=counts.get("running", 0),
        done=counts.get("done", 0),
        failed=counts.get("failed", 0),
        cancelled=counts.get("cancelled", 0),
        skipped=counts.get("skipped", 0),
    )


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
        self.task_list.newest_first = live_rows
        self.filter_bar = FilterBar(placeholder="task name contains… (Esc clears)",
                                    id="task-filter")
        """``/``: narrows the task list by name as you type."""
        self.watch_header: WatchHeader | None = None
        """What a watch is doing (watch mode only)."""
        self.preview_total: int | None = None
        """The job's task count while only its first rows are listed (-1 until counted,
        None once loaded)."""
        self.log = TaskLog(store, self.selected_task, self._max_attempts, id="log")
        """The task under the cursor, in detail."""
        self.step_names: list[str] | None = None
        """A pipeline job's steps, step 1 first (None: one action); read when mounted."""

    def compose(self, clock: Clock) -> ComposeResult:
        """The widgets, as the screen lays them out between its header and footer."""
        if self.live_rows:
            self.watch_header = WatchHeader(clock, id="watch-header")
            yield self.watch_header
        self.stats_panel = StatsPanel(clock, watch=self.live_rows, id="stats")
        yield self.stats_panel
        with self.tasks_box:
            yield self.filter_bar
            yield self.task_list
        yield self.log

    def _max_attempts(self) -> int:
        runner = self.job.runner
        return (runner.spec.settings.retries if runner is not None else 0) + 1

    def selected_task(self) -> Any:
        """The task under the cursor (engine Task), or None."""
        return self.task_list.cursor_item

    def live_word(self, paused: bool) -> str:
        """The state word while a run goes: a watch is watching, a job running."""
        if paused:
            return "paused"
        return "watching" if self.live_rows else "running"

    # ------------------------------------------------------------------ states
    def mounted(self) -> None:
        """The screen is up, its runner not built yet: the job's first rows (read from the
        store now, so the first frame lists them), the watch's header."""
        self.tasks_box.border_title = "Tasks: all"
        self.tasks_box.border_subtitle = LIST_KEYS
        self.log.show_task(None)
        self.stats_panel.show_state("loading")
        self.task_list.empty_text = "loading tasks…"
        self.task_list.focus()
        self.show_pipeline()
        if self.watch_header is not None and self.job.runner is not None:
            self.watch_header.attach(self.job.runner)  # a watch's runner is its Watcher
            self.watch_header.refresh_text(None)
        rows = self.job.first_rows(PREVIEW_ROWS)  # a read by index: about a millisecond
        if rows is not None:
            self.preview(rows)

    def preview(self, rows: list[Any]) -> None:
        """The job's first rows, from the store, while the runner is built."""
        if self.job.engine is None:
            self.preview_total = -1  # not counted yet
            self.task_list.set_rows(rows)
            self.show_title()

    async def stored_counts(self) -> None:
        """The job's counts per state, from the store (in a thread), while the runner is not
        built; returns once they are drawn, so that building it (100,000 tasks: seconds of
        work in a thread) does not slow the drawing of the first screenful."""
        counts = await self.job.stored_counts()
        if counts is None or self.job.engine is not None or not self.task_list.is_attached:
            return
        stats = stats_from_counts(counts)
        if self.step_names is not None:
            per_step = await asyncio.to_thread(self.job.store.step_counts, self.job.job_id,
                                               len(self.step_names))  # fmt: skip
            self.stats_panel.show_steps(steps_line(self.step_names, per_step))
        self.preview_total = stats.total
        if not stats.total:
            self.task_list.empty_text = "no files matched"
        self.show_title()
        self.stats_panel.update_stats(stats)
        painted = asyncio.Event()
        self.task_list.call_after_refresh(painted.set)
        await painted.wait()

    def loaded(self, engine: Any) -> None:
        """The runner is built: list its tasks (the cursor stays on its row), show its
        counters."""
        self.preview_total = None
        header = self.watch_header
        if header is not None and header.source is not self.job.runner:  # run here instead
            header.attach(self.job.runner)
        tasks = engine.tasks.values()
        rows = list(reversed(tasks)) if self.task_list.newest_first else list(tasks)
        self.task_list.set_rows(rows, keep_cursor=not self.live_rows)
        stats = engine.snapshot()
        if not getattr(engine, "complete", True):  # an attached job's rows still coming
            self.preview_total = stats.total
        if self.live_rows:
            self.task_list.empty_text = "no files yet: waiting for files to arrive"
        elif not stats.total:
            self.task_list.empty_text = "no files matched"
        else:
            self.task_list.empty_text = "no tasks"
        self.show_title()
        self.show_stats(stats)

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
        self.stats_panel.state_text = self.live_word(self.job.engine.paused)
        self.stats_panel.start_run()
        if self.job.attached:  # the job has been running since before this viewer came
            self.stats_panel.elapsed_before = self.job.engine.snapshot().elapsed

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
            panel.state_text = self.live_word(stats.paused)
        panel.update_stats(stats)
        engine = self.job.engine
        if self.step_names is not None and callable(getattr(engine, "step_counts", None)):
            panel.show_steps(steps_line(self.step_names, engine.step_counts()))
        if self.watch_header is not None:
            self.watch_header.refresh_text(stats)

    # --------------------------------------------------------------- pipelines
    def show_pipeline(self) -> None:
        """A pipeline job: the Step column and the line of counts per step (a one-action
        job keeps its columns and lines as they were)."""
        try:
            spec = self.job.store.get_job(self.job.job_id).spec
        except Exception:  # unknown job, broken store: loading says what is wrong
            return
        self.step_names = step_names(spec)
        if self.step_names is None:
            return
        self.task_list.show_steps(self.step_of)
        self.stats_panel.show_steps(steps_line(self.step_names, []))

    def step_of(self, task: Any) -> int | None:
        """A task's step, 0-based: the live pipeline knows its tasks' steps, a store row
        (before the pipeline is built) carries its own."""
        engine = self.job.engine
        step_of = getattr(engine, "step_of", None)
        if callable(step_of):
            step = step_of(task.id)
            if step is not None:
                return int(step)
        step = getattr(task, "step", None)
        return int(step) if isinstance(step, int) else None

    def stats_updated(self, stats: Stats) -> None:
        """Counters from the bridge: the engine's counters now, the message's snapshot may be
        older than the rows (a TasksChanged handled after it was taken showed newer ones)."""
        engine = self.job.engine
        self.show_stats(engine.snapshot() if engine is not None else stats)

    def tasks_changed(self, task_ids: frozenset[int]) -> None:
        """These tasks changed: their rows, the title, the counters as of these rows (not up
        to 0.25 s older) and the log if it shows one of them."""
        self.task_list.tasks_changed(task_ids)
        engine = self.job.engine
        if self.step_names is not None and engine is not None:
            self.task_list.follow(engine)  # a file's next step is a task made just now
        self.show_title()
        if engine is not None:
            self.show_stats(engine.snapshot())
        if self.log.task_id is not None and self.log.task_id in task_ids:
            self.update_log()

    def paused(self, paused: bool) -> None:
        """The engine paused or resumed: the ETA says so at once, not at the next tick."""
        self.stats_panel.state_text = self.live_word(paused)
        engine = self.job.engine
        if engine is not None:
            self.stats_panel.update_stats(engine.snapshot())
        else:
            self.stats_panel.refresh_text()

    def tick(self) -> None:
        """Once a second: elapsed clock; in watch mode, the rows that arrived or left and
        the watch header (settling files, idle since)."""
        if self.job.running:
            self.stats_panel.refresh_text()
        engine = self.job.engine
        if self.live_rows and engine is not None and self.task_list.follow(engine):
            self.show_title()
        if self.watch_header is not None:
            self.watch_header.refresh_text(engine.snapshot() if engine is not None else None)

    def filter_active(self) -> bool:
        """The ``/`` bar is open or holds a filter (Esc then clears it first)."""
        bar = self.filter_bar
        return bar.is_mounted and bool(bar.children) and bar.active

    def filter_names(self, text: str) -> None:
        """The ``/`` bar's text changed: narrow the list to the tasks named so."""
        self.task_list.filter_name(text)
        self.show_title()

    def detach(self) -> None:
        """The screen goes away: stop hearing the watcher."""
        if self.watch_header is not None:
            self.watch_header.detach()

    def rows_changed(self) -> None:
        """Tasks were queued again, or the run ended: recompute the list's view."""
        engine = self.job.engine
        if self.step_names is None or engine is None or not self.task_list.follow(engine):
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
        shown, total = len(self.task_list.source), self.preview_total
        if total is not None and (total < 0 or total > shown):
            of = f" of {total:,}" if total > 0 else ""
            title += f" · first {shown:,}{of}, loading…"
        if self.tasks_box.border_title != title:
            self.tasks_box.border_title = title

    # ------------------------------------------------------------------- log
    def update_log(self) -> None:
        """Show the selected task in the log pane."""
        self.log.follow(self.job.engine)

    def refresh_live_output(self) -> None:
        """Twice a second: the selected running task's output so far."""
        self.log.refresh_live(self.job.engine)
