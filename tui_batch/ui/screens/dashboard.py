"""The live dashboard: statistics, progress, the task list, the selected task's log, controls.

The engine runs on the app's event loop (its work is in threads, processes and subprocesses).
The :class:`~tui_batch.ui.messages.EngineBridge` coalesces its events into a few messages per
second; this screen only ever repaints what is visible, so 100,000 fast tasks cost the UI a
constant few milliseconds per tick.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header

from ...engine.events import Stats
from ...jobs import EXIT_INTERRUPTED, EXIT_OK, JobRunner
from ...model import Priority, TaskState
from ..cancel_tally import CancelTally
from ..clock import SystemClock
from ..history import JobHistory, load_history
from ..messages import EngineBridge, EngineNotice, JobFinished, StatsUpdated, TasksChanged
from ..widgets.log_pane import LogPane
from ..widgets.stats_panel import StatsPanel
from ..widgets.task_list import TaskList, task_state
from ..widgets.virtual_table import VirtualTable

if TYPE_CHECKING:
    from ...store import Store

FINAL_STATES = frozenset({"done", "failed", "cancelled"})
"""Stored job states a dashboard opened on a finished job shows as they are."""


class DashboardScreen(Screen[int]):
    """Runs (or shows) one stored job."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause"),
        Binding("p", "resume", "Resume"),
        Binding("s", "start", "Start"),
        Binding("c", "cancel_task", "Cancel task"),
        Binding("C", "cancel_all", "Cancel all"),
        Binding("r", "retry_failed", "Retry failed"),
        Binding("plus,equals_sign", "workers(1)", "Workers +", key_display="+"),
        Binding("minus", "workers(-1)", "Workers -", key_display="-"),
        Binding("P", "priority", "Priority"),
        Binding("f", "filter", "Filter"),
        Binding("o", "sort", "Sort", show=False),
        Binding("tab", "app.focus_next", "Focus", show=False),
        Binding("escape", "back", "Back"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(
        self,
        store: Store,
        job_id: int,
        *,
        runner: JobRunner | None = None,
        autostart: bool = True,
        live_rows: bool = False,
    ) -> None:
        super().__init__()
        self.live_rows = live_rows
        """Watch mode: tasks keep arriving (and old finished ones leave), so the list is
        re-read from the engine every second."""
        self._rows_key: tuple[int, int] = (0, 0)
        self.store = store
        """The job store (attempt history for the log pane)."""
        self.job_id = job_id
        """The job shown."""
        self.runner = runner
        """Runs the job; created on mount when not given."""
        self.autostart = autostart
        """Start running on mount (``run``/``resume``) or wait for "Start" (opened job)."""
        self.running = False
        """A run is in progress (the engine is live)."""
        self.stopping = False
        """Quit was requested: the runner is stopping, the job stays resumable."""
        self.exit_code: int | None = None
        """Exit code of the last finished run (None while running / before), set when the
        screen has handled the run's end."""
        self.run_exit_code: int | None = None
        """Exit code of the last run, set the moment the run returns (before JobFinished)."""
        self.bridge = EngineBridge(self)
        """Coalesces engine events into messages for this screen."""
        self.messages_handled = 0
        """Bridge messages handled (bench figure)."""
        self.run_started_at: float | None = None
        """perf_counter() when the last run started (bench figure)."""
        self.run_ended_at: float | None = None
        """perf_counter() when the last run ended (bench figure)."""
        self._binding_state: tuple[bool, ...] = ()
        self._engine: Any = None
        self._attempts: dict[int, list[Any]] = {}
        self._live_timer: Timer | None = None
        self._run_done: asyncio.Event = asyncio.Event()
        self._cancel_tally: CancelTally | None = None

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header()
        clock = getattr(self.app, "clock", None) or SystemClock()
        yield StatsPanel(clock, id="stats")
        with Vertical(id="tasks-box"):
            yield TaskList(id="tasks")
        yield LogPane(id="log")
        yield Footer()

    @property
    def engine(self) -> Any:
        """The live engine (None until the runner is loaded, kept after it is released)."""
        if self.runner is not None:
            self._engine = self.runner.engine
        return self._engine

    @property
    def task_list(self) -> TaskList:
        """The task list widget."""
        return self.query_one(TaskList)

    @property
    def stats_panel(self) -> StatsPanel:
        """The statistics widget."""
        return self.query_one(StatsPanel)

    def on_mount(self) -> None:
        self.sub_title = f"job {self.job_id}"
        self.query_one("#tasks-box").border_title = "Tasks: all"
        self.query_one(LogPane).show_task(None)
        self.stats_panel.state_text = "loading"
        self.stats_panel.refresh_text()
        self.task_list.focus()
        self.set_interval(1.0, self._tick, name="dashboard-clock")
        self._live_timer = self.set_interval(0.5, self._refresh_live_output, name="live-output")
        self.load_job()

    @work(group="load", exclusive=True)
    async def load_job(self) -> None:
        """Build the runner off the event loop (loading 100k task rows takes a moment)."""
        if self.runner is None:
            try:
                self.runner = await asyncio.to_thread(JobRunner, self.store, self.job_id)
            except Exception as exc:  # unknown job, broken store, unknown action
                self.stats_panel.state_text = "cannot load"
                self.stats_panel.refresh_text()
                self.notify(str(exc), severity="error", title=f"Job {self.job_id}")
                return
        engine = self.runner.engine
        self.task_list.set_rows(list(engine.tasks.values()))
        self._show_title()
        self.bridge.attach(engine)
        self._show_stats(engine.snapshot())
        if self.autostart:
            self.start_run()
        else:
            self.stats_panel.state_text = self._idle_state()
            self.stats_panel.refresh_text()
            self.load_history()
        self.update_bindings()
        self._update_log()

    @work(thread=True, exclusive=True, group="history")
    def load_history(self) -> None:
        """A job opened from the jobs screen: its stored state and elapsed time."""
        try:
            history = load_history(self.store, self.job_id)
        except Exception:  # store closed or busy: the panel keeps what it has
            return
        self.app.call_from_thread(self._history_loaded, history)

    def _history_loaded(self, history: JobHistory) -> None:
        if not self.is_attached:
            return
        panel = self.stats_panel
        panel.elapsed_before += history.elapsed
        idle = not self.running and self.run_exit_code is None
        if idle and history.state in FINAL_STATES and self._idle_state() != "ready":
            panel.state_text = history.state  # as the jobs list says
        panel.refresh_text()

    def _idle_state(self) -> str:
        stats = self.engine.snapshot() if self.engine is not None else Stats()
        if stats.queued or stats.running:
            return "ready"
        if stats.failed:
            return "failed"
        if stats.cancelled:
            return "cancelled"
        return "done"

    # ------------------------------------------------------------------ runs
    def start_run(self) -> None:
        """Run what is queued (first run, resume, or after retry-failed)."""
        if self.runner is None or self.running:
            return
        self.running = True
        self.exit_code = self.run_exit_code = None
        self._run_done = asyncio.Event()
        self.stats_panel.state_text = "paused" if self.engine.paused else "running"
        self.stats_panel.start_run()
        self.update_bindings()
        self.run_worker(self._run(), group="job", exclusive=True, name="job-run")

    async def _run(self) -> None:
        assert self.runner is not None
        error = None
        code = EXIT_INTERRUPTED  # if this worker is cancelled (app shutdown) mid-run
        self.run_started_at, self.run_ended_at = time.perf_counter(), None
        try:
            code = await self.runner.run()
        except Exception as exc:  # the runner saved the job as interrupted
            code, error = 1, f"{type(exc).__name__}: {exc}"
        finally:
            self.run_ended_at = time.perf_counter()
            # Recorded before anyone waiting on the run resumes: a quit that follows at once
            # must not read the code of a previous run (JobFinished is handled later).
            self.run_exit_code = code
            record = getattr(self.app, "record_exit_code", None)
            if record is not None:
                record(code)
            self.running = False
            self._run_done.set()
        self.post_message(JobFinished(code, error))

    async def wait_finished(self) -> None:
        """Return when the current run (if any) has ended."""
        if self.running:
            await self._run_done.wait()

    async def stop_and_wait(self) -> None:
        """Quit path: stop the runner (job stays resumable) and wait for it."""
        if self.runner is not None and self.running:
            self.stopping = True
            for panel in self.query(StatsPanel):  # gone already when the app shuts down
                panel.state_text = "stopping"
                panel.refresh_text()
            self.runner.stop()
            await self.wait_finished()

    def final_exit_code(self) -> int:
        """The process exit code for this job after its run: 130 whenever work is left
        (queued, running or interrupted tasks: the job is resumable), else the run's code.

        Computed from the engine's final counters, so call it once the run has ended."""
        code = EXIT_OK if self.run_exit_code is None else self.run_exit_code
        if self.engine is not None:
            stats = self.engine.snapshot()
            if stats.total > stats.finished_count:  # queued + running + interrupted
                return EXIT_INTERRUPTED
        return code

    @on(JobFinished)
    def _job_finished(self, message: JobFinished) -> None:
        self.exit_code = message.exit_code
        self.bridge.flush()
        self._report_cancelled(run_over=True)
        stats = self.engine.snapshot()
        self.stats_panel.end_run()
        if message.error:
            self.stats_panel.state_text = "crashed"
            self.notify(message.error, severity="error", title="Job stopped")
        elif message.exit_code == 130:
            self.stats_panel.state_text = "stopped"
        elif message.exit_code == 0:
            self.stats_panel.state_text = "done"
            self.notify(f"{stats.done:,} done, {stats.skipped:,} skipped", title="Job finished")
        elif stats.failed or not stats.cancelled:
            self.stats_panel.state_text = "failed"
            self.notify(
                f"{stats.failed:,} failed, {stats.cancelled:,} cancelled - r retries them",
                severity="warning",
                title="Job finished",
            )
        else:  # nothing failed: the user cancelled what was left
            self.stats_panel.state_text = "cancelled"
            self.notify(
                f"{stats.cancelled:,} cancelled, {stats.done:,} done - r runs them again",
                severity="warning",
                title="Job cancelled",
            )
        self._show_stats(stats)
        self.task_list.rebuild()
        self._show_title()
        self.update_bindings()
        self._update_log()

    # --------------------------------------------------------- engine -> UI
    @on(StatsUpdated)
    def _stats_updated(self, message: StatsUpdated) -> None:
        self.messages_handled += 1
        # The engine's counters now: the message's snapshot may be older than the rows
        # (a TasksChanged handled after it was taken already showed newer counts).
        self._show_stats(self.engine.snapshot() if self.engine is not None else message.stats)

    def _show_stats(self, stats: Stats) -> None:
        panel = self.stats_panel
        if self.running and not self.stopping:
            panel.state_text = "paused" if stats.paused else "running"
        panel.update_stats(stats)

    @on(TasksChanged)
    def _tasks_changed(self, message: TasksChanged) -> None:
        self.messages_handled += 1
        self.task_list.tasks_changed(message.task_ids)
        self._show_title()
        if self.engine is not None:  # the counters as of these rows, not up to 0.25 s older
            self._show_stats(self.engine.snapshot())
        self._report_cancelled()
        log = self.query_one(LogPane)
        if log.task_id is not None and log.task_id in message.task_ids:
            self._update_log()
        self.update_bindings()

    @on(EngineNotice)
    def _engine_notice(self, message: EngineNotice) -> None:
        kind = message.event.kind
        if kind in ("paused", "resumed"):
            self.stats_panel.state_text = "paused" if kind == "paused" else "running"
            if self.engine is not None:  # ETA "paused" at once, not at the next tick
                self.stats_panel.update_stats(self.engine.snapshot())
            else:
                self.stats_panel.refresh_text()
        elif kind == "halted":
            self.notify(
                message.event.message or "too many failures", severity="warning", title="Halted"
            )
        elif kind == "warning":
            self.notify(message.event.message, severity="warning")
        self.update_bindings()

    def _tick(self) -> None:
        """Once a second: elapsed clock; in watch mode, the rows that arrived or left."""
        if self.running:
            self.stats_panel.refresh_text()
        engine = self.engine
        if self.live_rows and engine is not None and engine.tasks:
            key = (len(engine.tasks), next(reversed(engine.tasks)))
            if key != self._rows_key:
                self._rows_key = key
                self.task_list.set_rows(list(engine.tasks.values()), keep_cursor=True)
                self._show_title()

    # ------------------------------------------------------------- log pane
    @on(VirtualTable.CursorMoved, "#tasks")
    def _cursor_moved(self) -> None:
        self._update_log()
        self.update_bindings()

    def selected_task(self) -> Any:
        """The task under the cursor (engine Task), or None."""
        return self.task_list.cursor_item

    def _update_log(self) -> None:
        """Show the selected task now from the engine's memory; its attempt history comes
        from the store in a thread (a store read waits for queued writes: never on the loop)."""
        task = self.selected_task()
        log = self.query_one(LogPane)
        if task is None:
            log.show_task(None)
            return
        live = ("", "")
        attempts = self._attempts.get(task.id, [])
        if self.engine is not None and task.state is TaskState.RUNNING:
            live = self.engine.live_output(task.id)
        retries = self.runner.spec.settings.retries if self.runner is not None else 0
        log.show_task(task, live=live, attempts=attempts, max_attempts=retries + 1)
        if (
            task.attempts
            and task.state is not TaskState.RUNNING
            and (len(attempts) != task.attempts or attempts[-1].state != task_state(task))
        ):
            self.load_attempts(task.id)

    @work(thread=True, exclusive=True, group="attempts")
    def load_attempts(self, task_id: int) -> None:
        """Read a task's attempts (with output tails) from the store."""
        try:
            attempts = self.store.attempts(task_id)
        except Exception:  # store closed or busy: the pane keeps the engine's view
            return
        self.app.call_from_thread(self._attempts_loaded, task_id, attempts)

    def _attempts_loaded(self, task_id: int, attempts: list[Any]) -> None:
        self._attempts[task_id] = attempts
        if len(self._attempts) > 256:  # a cache, not a copy of the store
            self._attempts.pop(next(iter(self._attempts)))
        task = self.selected_task()
        if task is not None and task.id == task_id and self.is_attached:
            retries = self.runner.spec.settings.retries if self.runner is not None else 0
            self.query_one(LogPane).show_task(task, attempts=attempts, max_attempts=retries + 1)

    def _refresh_live_output(self) -> None:
        task = self.selected_task()
        if task is not None and task.state is TaskState.RUNNING:
            self._update_log()

    # ---------------------------------------------------------------- actions
    GUARDED_ACTIONS = (
        "pause",
        "resume",
        "start",
        "cancel_task",
        "cancel_all",
        "retry_failed",
        "workers",
        "priority",
        "back",
    )
    """Actions whose availability changes with the job's state (checked by update_bindings)."""

    def update_bindings(self) -> None:
        """Refresh the footer only when an action's availability changed: the footer rebuilds
        its widgets on every refresh, which at 10 updates/s would cost more than the tasks."""
        state = tuple(bool(self.check_action(a, ())) for a in self.GUARDED_ACTIONS)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        engine = self.engine
        live = engine is not None and self.running and not self.stopping
        if action == "pause":
            return live and not engine.paused
        if action == "resume":
            return live and engine.paused
        if action == "start":
            if engine is None or self.running:
                return False
            stats = engine.snapshot()
            return bool(stats.queued)
        if action == "cancel_task":
            task = self.selected_task()
            return live and task is not None and not task.state.terminal
        if action == "cancel_all":
            return live
        if action == "retry_failed":
            if engine is None or self.stopping:
                return False
            stats = engine.snapshot()
            return bool(stats.failed or stats.cancelled)
        if action == "workers":
            return engine is not None and not self.stopping
        if action == "priority":
            task = self.selected_task()
            return task is not None and task.state is TaskState.QUEUED
        if action == "back":
            return not self.running
        return True

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
        from ..dialogs.confirm import ConfirmDialog

        stats = self.engine.snapshot()

        def answer(yes: bool | None) -> None:
            if yes and self.engine is not None and self.running:
                tally = CancelTally(self.bridge, self.engine)
                self.engine.cancel_all()
                self._cancel_tally = tally
                self._report_cancelled()

        self.app.push_screen(
            ConfirmDialog(
                "Cancel all tasks?",
                f"{stats.queued:,} waiting tasks will not run and {stats.running:,} running "
                "ones are stopped. Retry failed (r) can queue them again.",
                yes="Cancel all",
                no="Keep running",
                danger=True,
            ),
            answer,
        )

    def _report_cancelled(self, run_over: bool = False) -> None:
        """The toast of a "Cancel all", once its running tasks have ended: how many tasks
        the engine really cancelled (not the dialog's figure)."""
        tally = self._cancel_tally
        if tally is not None and tally.settled(run_over or not self.running):
            self._cancel_tally = None
            self.notify(f"Cancelled {tally.count:,} tasks", timeout=3)

    def action_retry_failed(self) -> None:
        """Queue failed and cancelled tasks again (and run them if the job had finished)."""
        if self.engine is None:
            return
        n = self.engine.retry_failed()
        self.notify(f"Retrying {n:,} tasks", timeout=3)
        if n and not self.running:
            self.start_run()
        self.task_list.rebuild()
        self._show_title()
        self.update_bindings()

    def action_workers(self, delta: int) -> None:
        """Change concurrency while running."""
        if self.engine is None:
            return
        target = max(1, self.engine.workers + delta)
        self.engine.set_workers(target)
        self.stats_panel.stats.workers = self.engine.workers
        self.stats_panel.refresh_text()
        self.notify(f"{self.engine.workers} workers", timeout=1.5)

    def action_priority(self) -> None:
        """Move the selected waiting task up or down the queue."""
        from ..dialogs.priority import PriorityPicker

        task = self.selected_task()
        if task is None or self.engine is None:
            return

        def chosen(priority: Priority | None) -> None:
            if priority is not None and self.engine is not None:
                self.engine.set_priority(task.id, priority)
                self.task_list.tasks_changed([task.id])
                self._update_log()

        self.app.push_screen(
            PriorityPicker(Priority(int(task.priority)), f"task #{task.id}"), chosen
        )

    def action_filter(self) -> None:
        """Cycle the status filter: all, running, queued, failed, done, cancelled, skipped."""
        self.task_list.cycle_filter()
        self._show_title()

    def _show_title(self) -> None:
        """The list's title: its status filter and how many rows it lists right now."""
        table = self.task_list
        status = table.status_filter
        title = "Tasks: all"
        if status is not None:
            title = f"Tasks: {status} ({table.row_count:,})"
            if self.live_rows and self.engine is not None:
                # Watch mode keeps only the latest finished tasks in the list.
                counted = getattr(self.engine.snapshot(), status, 0)
                if isinstance(counted, int) and counted > table.row_count:
                    title = f"Tasks: {status} ({table.row_count:,} shown of {counted:,})"
        box = self.query_one("#tasks-box")
        if box.border_title != title:
            box.border_title = title

    def action_sort(self) -> None:
        """Sort by the next column (or click a header)."""
        self.task_list.cycle_sort()

    def action_back(self) -> None:
        """Back to the previous screen (only when nothing runs)."""
        from .jobs import JobsScreen

        self.bridge.detach()
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.switch_screen(JobsScreen())

    async def on_unmount(self) -> None:
        self.bridge.detach()
        await self.release()

    async def release(self) -> None:
        """Stop a run still going (app exit) and release the executor and the job's run lock,
        so the job can be resumed (by this app or another process)."""
        runner = self.runner
        if runner is None:
            return
        if self.running:
            await self.stop_and_wait()
        self.runner = None
        try:
            await runner.aclose()
        except Exception as exc:  # closing must never crash the exit path
            self.log.error(f"closing job {self.job_id}: {exc}")

    def remaining(self) -> int:
        """Tasks not finished yet: queued, running or interrupted (for the quit question)."""
        if self.engine is None:
            return 0
        s = self.engine.snapshot()
        return s.total - s.finished_count

    def state_counts(self) -> dict[str, int]:
        """Tasks per state (tests)."""
        counts: dict[str, int] = {}
        if self.engine is not None:
            for task in self.engine.tasks.values():
                state = task_state(task)
                counts[state] = counts.get(state, 0) + 1
        return counts
