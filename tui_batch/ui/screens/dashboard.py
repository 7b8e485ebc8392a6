"""The live dashboard: statistics, progress, the task list, the selected task's log, controls.

The engine runs on the app's event loop (its work is in threads, processes and subprocesses).
The :class:`~tui_batch.ui.messages.EngineBridge` coalesces its events into a few messages per
second; this screen only ever repaints what is visible, so 100,000 fast tasks cost the UI a
constant few milliseconds per tick.

This module is the screen: the keys, the dialogs and toasts, starting and stopping runs. What
running the job means (the runner, exit codes, which control applies when) is
:mod:`tui_batch.ui.job_run`; what the screen shows of it, :mod:`tui_batch.ui.dashboard_view`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Header

from ...jobs import JobRunner
from ...model import Priority
from ..clock import SystemClock
from ..dashboard_keys import BINDINGS, GUARDED_ACTIONS, cancel_all_question, quit_question
from ..dashboard_view import DashboardView
from ..dialogs.confirm import ConfirmDialog
from ..dialogs.priority import PriorityPicker
from ..history import JobHistory, load_history
from ..job_run import JobRun
from ..messages import EngineBridge, EngineNotice, JobFinished, StatsUpdated, TasksChanged
from ..navigation import navigator
from ..widgets.filter_bar import FilterBar
from ..widgets.key_footer import KeyFooter
from ..widgets.stat_lines import plural
from ..widgets.stats_panel import StatsPanel
from ..widgets.task_list import TaskList
from ..widgets.virtual_table import VirtualTable

if TYPE_CHECKING:
    from ...control.remote_runner import RemoteRunner
    from ...store import Store


class DashboardScreen(Screen[int]):
    """Runs (or shows) one stored job."""

    HELP_TITLE: ClassVar[str] = "Dashboard"
    """This screen's section in the help."""
    HELP_INTRO: ClassVar[str] = ("The footer shows only what applies now (e.g. *Resume* only "
                                 "when paused), the most used keys first.")
    """Said in the help before the keys."""

    BINDINGS: ClassVar[list[BindingType]] = BINDINGS
    GUARDED_ACTIONS = GUARDED_ACTIONS  # the footer is refreshed when one of these changes

    def __init__(
        self,
        store: Store,
        job_id: int,
        *,
        runner: JobRunner | RemoteRunner | None = None,
        autostart: bool = True,
        live_rows: bool = False,
    ) -> None:
        super().__init__()
        self.live_rows = live_rows
        """Watch mode: tasks keep arriving (and old finished ones leave)."""
        self.store = store
        """The job store (attempt history for the log pane)."""
        self.job_id = job_id
        """The job shown."""
        self.job = JobRun(store, job_id, runner)
        """The job's runner and the state of its runs."""
        self.view = DashboardView(self.job, store, live_rows=live_rows)
        """The widgets, and what they show of the job."""
        self.autostart = autostart
        """Start running on mount (``run``/``resume``) or wait for "Start" (opened job)."""
        self.exit_code: int | None = None
        """Exit code of the last finished run (None while running / before), set when the
        screen has handled the run's end."""
        self.bridge = EngineBridge(self)
        """Coalesces engine events into messages for this screen."""
        self._binding_state: tuple[bool, ...] = ()

    # ------------------------------------------------------- the job's state
    @property
    def runner(self) -> JobRunner | RemoteRunner | None:
        """Runs the job; created on mount when not given."""
        return self.job.runner

    @property
    def engine(self) -> Any:
        """The live engine (None until the runner is loaded, kept after it is released)."""
        return self.job.engine

    @property
    def running(self) -> bool:
        """A run is in progress (the engine is live)."""
        return self.job.running

    @property
    def task_list(self) -> TaskList:
        """The task list widget."""
        return self.query_one(TaskList)

    @property
    def stats_panel(self) -> StatsPanel:
        """The statistics widget."""
        return self.query_one(StatsPanel)

    def selected_task(self) -> Any:
        """The task under the cursor (engine Task), or None."""
        return self.view.selected_task()

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.view.compose(getattr(self.app, "clock", None) or SystemClock())
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"job {self.job_id}{self.job.where}"  # attached, in the service
        self.view.mounted()  # with the job's first rows, in the first frame
        self.set_interval(1.0, self.view.tick, name="dashboard-clock")
        self.set_interval(0.5, self.view.refresh_live_output, name="live-output")
        self.load_job()

    @work(group="load", exclusive=True)
    async def load_job(self) -> None:
        """Build the runner off the event loop (loading 100k task rows takes a moment); the
        first screenful of rows and the counts are shown from the store before that."""
        await self.view.stored_counts()
        try:
            engine = await self.job.load()
        except Exception as exc:  # unknown job, broken store, unknown action
            self.view.stats_panel.show_state("cannot load")
            self.notify(str(exc), severity="error", title=f"Job {self.job_id}")
            return
        self.view.loaded(engine)
        self.bridge.attach(engine)
        if self.autostart:
            self.start_run()
        else:
            self.view.stats_panel.show_state(self.job.idle_state())
            self.load_history()
        self.update_bindings()
        self.view.update_log()

    @work(thread=True, exclusive=True, group="history")
    def load_history(self) -> None:
        """A job opened from the jobs screen: its stored state and elapsed time."""
        try:
            history = load_history(self.store, self.job_id)
        except Exception:  # store closed or busy: the panel keeps what it has
            return
        self.app.call_from_thread(self._history_loaded, history)

    def _history_loaded(self, history: JobHistory) -> None:
        if self.is_attached:
            self.view.history_loaded(history)

    # ------------------------------------------------------------------ runs
    def start_run(self) -> None:
        """Run what is queued (first run, resume, or after retry-failed)."""
        if not self.job.begin():
            return
        self.exit_code = None
        self.view.run_started()
        self.update_bindings()
        self.run_worker(self._run(), group="job", exclusive=True, name="job-run")

    async def _run(self) -> None:
        code, error = await self.job.run(self._record_exit_code)
        self.post_message(JobFinished(code, error))

    def _record_exit_code(self, code: int) -> None:
        record = getattr(self.app, "record_exit_code", None)
        if record is not None:
            record(code)

    async def wait_finished(self) -> None:
        """Return when the current run (if any) has ended."""
        await self.job.wait_finished()

    async def stop_and_wait(self) -> None:
        """Quit path: stop the runner (job stays resumable) and wait for it."""
        if self.runner is not None and self.running:
            for panel in self.query(StatsPanel):  # gone already when the app shuts down
                panel.show_state("stopping")
        await self.job.stop_and_wait()

    @on(JobFinished)
    def _job_finished(self, message: JobFinished) -> None:
        self.exit_code = message.exit_code
        self.bridge.flush()
        self._report_cancelled(run_over=True)
        stats = self.engine.snapshot()
        outcome = self.job.outcome(message.exit_code, message.error, stats)
        self.view.run_finished(outcome, stats)
        if outcome.message is not None:
            self.notify(outcome.message, severity=outcome.severity, title=outcome.title)
        self.update_bindings()

    # --------------------------------------------------------- engine -> UI
    @on(StatsUpdated)
    def _stats_updated(self, message: StatsUpdated) -> None:
        self.view.stats_updated(message.stats)

    @on(TasksChanged)
    def _tasks_changed(self, message: TasksChanged) -> None:
        self.view.tasks_changed(message.task_ids)
        self._report_cancelled()
        self.update_bindings()

    @on(EngineNotice)
    def _engine_notice(self, message: EngineNotice) -> None:
        kind = message.event.kind
        if kind in ("paused", "resumed"):
            self.view.paused(kind == "paused")
        elif kind == "halted":
            self.notify(
                message.event.message or "too many failures", severity="warning", title="Halted"
            )
        elif kind == "warning":
            self.notify(message.event.message, severity="warning")
        elif kind == "rows":  # an attached job's task list has been read whole
            self.view.loaded(self.engine)
        self.update_bindings()

    @on(VirtualTable.CursorMoved, "#tasks")
    def _cursor_moved(self) -> None:
        self.view.update_log()
        self.update_bindings()

    def _report_cancelled(self, run_over: bool = False) -> None:
        """The toast of a "Cancel all", once its running tasks have ended: how many tasks
        the engine really cancelled (not the dialog's figure)."""
        count = self.job.cancelled(run_over)
        if count is not None:
            self.notify(f"Cancelled {plural(count, 'task')}", timeout=3)

    # ---------------------------------------------------------------- actions
    def update_bindings(self) -> None:
        """Refresh the footer only when an action's availability changed: the footer rebuilds
        its widgets on every refresh, which at 10 updates/s would cost more than the tasks."""
        state = tuple(bool(self.check_action(a, ())) for a in self.GUARDED_ACTIONS)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("clear_filter", "back") and self.view.filter_active():
            return action == "clear_filter"  # Esc first clears the filter, then goes back
        if action in ("filter", "find"):  # nothing to filter in a job without tasks
            return bool(len(self.view.task_list.source))
        return action != "clear_filter" and self.job.allows(action, self.selected_task)

    def action_pause(self) -> None:
        """No new task starts; running ones finish."""
        if self.engine is not None:
            self.engine.pause()
            self.update_bindings()

    def action_resume(self) -> None:
        """Start tasks again after a pause."""
        if self.engine is not None:
            self.engine.resume()
            self.update_bindings()

    def action_start(self) -> None:
        """Run the queued tasks of a job opened from the jobs screen."""
        self.start_run()

    def action_cancel_task(self) -> None:
        """Cancel the selected task (a running command gets SIGTERM, then SIGKILL)."""
        task = self.selected_task()
        if task is not None and self.engine is not None and self.engine.cancel(task.id):
            self.notify(f"Cancelling task #{task.id}", timeout=2)

    def action_cancel_all(self) -> None:
        """Cancel every waiting and running task, after confirmation."""
        q = cancel_all_question(self.engine.snapshot(), watch=self.live_rows)

        def answer(yes: bool | None) -> None:
            if yes and self.engine is not None and self.running:
                self.job.cancel_all(self.bridge)
                self._report_cancelled()

        self.app.push_screen(ConfirmDialog(q.title, q.text, yes=q.yes, no=q.no, danger=True),
                             answer)

    def action_retry_failed(self) -> None:
        """Queue failed and cancelled tasks again (and run them if the job had finished)."""
        if self.engine is None:
            return
        n = self.engine.retry_failed()
        self.notify(f"Retrying {plural(n, 'task')}", timeout=3)
        if n and not self.running:
            self.start_run()
        self.view.rows_changed()
        self.update_bindings()

    def action_workers(self, delta: int) -> None:
        """Change concurrency while running."""
        if self.engine is None:
            return
        target = max(1, self.engine.workers + delta)
        self.engine.set_workers(target)
        self.view.stats_panel.show_workers(self.engine.workers)
        self.notify(plural(self.engine.workers, "worker"), timeout=1.5)

    def action_priority(self) -> None:
        """Move the selected waiting task up or down the queue."""
        task = self.selected_task()
        if task is None or self.engine is None:
            return

        def chosen(priority: Priority | None) -> None:
            if priority is not None and self.engine is not None:
                self.engine.set_priority(task.id, priority)
                self.view.task_list.tasks_changed([task.id])
                self.view.update_log()

        self.app.push_screen(
            PriorityPicker(Priority(int(task.priority)), f"task #{task.id}"), chosen
        )

    def action_filter(self) -> None:
        """Cycle the status filter: all, failed, running, queued, done, cancelled, skipped."""
        self.view.task_list.cycle_filter()  # the list then says where its cursor is: log, footer
        self.view.show_title()

    def action_find(self) -> None:
        """Filter the task list by name as you type (Esc clears)."""
        self.view.filter_bar.open()

    def action_clear_filter(self) -> None:
        """Clear the name filter and close its bar."""
        self.view.filter_bar.close()

    @on(FilterBar.Changed, "#task-filter")
    def _name_filter_changed(self, message: FilterBar.Changed) -> None:
        self.view.filter_names(message.text)  # and the list says where its cursor is now

    @on(VirtualTable.Selected, "#tasks")
    def _task_chosen(self) -> None:
        self.action_open_log()  # the list takes Enter itself, and says so with this message

    def action_open_log(self) -> None:
        """The selected task's whole output, full screen: every attempt, search, follow."""
        task = self.selected_task()
        if task is not None:
            navigator(self).open_log(self.job_id, task, lambda: self.engine)

    def action_toggle_log(self) -> None:
        """Make the log pane tall (most of the screen), or small again."""
        self.view.log.toggle_class("-tall")

    def action_sort(self) -> None:
        """Sort by the next column (or click a header)."""
        self.view.task_list.cycle_sort()

    def action_back(self) -> None:
        """Back to the previous screen (if nothing runs here; a viewer leaves: the job goes on)."""
        if self.job.viewer and len(self.app.screen_stack) <= 2:  # `tui-batch attach`
            return self.app.exit(getattr(self.app, "last_exit_code", 0))
        self.bridge.detach()
        if self.job.viewer and self.running:
            self.notify(f"Detached from job {self.job_id}; the job goes on.", timeout=3)
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            navigator(self).open_jobs(replace=True)

    async def on_unmount(self) -> None:
        self.bridge.detach()
        self.view.detach()
        await self.release()

    async def release(self) -> None:
        """Stop a run still going (app exit) and release the executor and the job's run lock,
        so the job can be resumed (by this app or another process). A viewer only detaches."""
        if self.running and not self.job.attached:
            await self.stop_and_wait()
        try:
            await self.job.release()
        except Exception as exc:  # closing must never crash the exit path
            self.log.error(f"closing job {self.job_id}: {exc}")

    def quit_question(self, advice: str) -> tuple[str, str, str, str]:
        """What quitting asks while this job runs: ``(title, text, yes, no)``; ``advice`` says
        how to finish the job later. A watch is stopped, not a job: it says so."""
        q = quit_question(self.engine, watch=self.live_rows, advice=advice)
        return q.title, q.text, q.yes, q.no

    def state_counts(self) -> dict[str, int]:
        """Tasks per state (tests)."""
        return self.job.state_counts()
