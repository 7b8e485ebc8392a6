"""One stored job as a dashboard runs it: its runner, the run's lifecycle and exit codes.

The dashboard shows a job; this module owns what running it means, apart from any widget: the
:class:`~tui_batch.jobs.JobRunner` (built in a thread: loading 100,000 task rows takes a
moment), whether a run is going or stopping, the exit code of the last run and the one the
process should end with, which controls the run's state allows, and what a finished run says.
It must not touch widgets: the screen turns what it reports into text, toasts and footers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..control.remote_runner import RemoteRunner
from ..engine.events import Stats
from ..jobs import EXIT_INTERRUPTED, EXIT_OK, JobRunner
from ..model import TaskState
from .cancel_tally import CancelTally
from .widgets.task_list import task_state

if TYPE_CHECKING:
    from ..store import Store
    from .messages import EngineBridge


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a finished run says: the dashboard's state word and, maybe, a toast."""

    state: str
    """``crashed``, ``stopped``, ``done``, ``failed`` or ``cancelled``."""
    message: str | None = None
    """The toast's text (None: no toast)."""
    severity: Literal["information", "warning", "error"] = "information"
    """The toast's severity."""
    title: str = ""
    """The toast's title."""


def run_outcome(exit_code: int, error: str | None, stats: Stats) -> RunOutcome:
    """How a run that ended with ``exit_code`` (and ``error`` if the runner crashed) is told,
    given the engine's final counters."""
    if error:
        return RunOutcome("crashed", error, "error", "Job stopped")
    if exit_code == 130:
        return RunOutcome("stopped")
    if exit_code == 0:
        if not stats.total:  # an empty folder: said as the panel says it, not "0 done"
            return RunOutcome("done", "No files matched: nothing to do", title="Job finished")
        return RunOutcome(
            "done", f"{stats.done:,} done, {stats.skipped:,} skipped", title="Job finished"
        )
    if stats.failed or not stats.cancelled:
        return RunOutcome(
            "failed",
            f"{stats.failed:,} failed, {stats.cancelled:,} cancelled - r retries them",
            "warning",
            "Job finished",
        )
    # nothing failed: the user cancelled what was left
    return RunOutcome(
        "cancelled",
        f"{stats.cancelled:,} cancelled, {stats.done:,} done - r runs them again",
        "warning",
        "Job cancelled",
    )


VIEW_ACTIONS = frozenset({"back", "open_log", "toggle_log", "sort", "filter", "find"})
"""What a dashboard attached to a job that has ended (or that it left) still does."""


class JobRun:
    """The runner of one stored job and the state of its runs.

    The runner may be a :class:`~tui_batch.control.remote.RemoteRunner`: the job runs in
    another process and this dashboard is attached to it (:attr:`attached`); its controls
    then act on that job, and leaving it never stops the job. A
    :class:`~tui_batch.service.handover.ServiceRunner` is one too, for a job this dashboard
    starts (:attr:`in_service`): it is handed to the service when the runner loads, and
    when the service cannot take it, it runs here instead (:attr:`warn` says so)."""

    def __init__(self, store: Store, job_id: int,
                 runner: JobRunner | RemoteRunner | None = None) -> None:
        self.store = store
        """The job store the runner is built on."""
        self.job_id = job_id
        """The job run."""
        self.runner = runner
        """Runs the job; built by :meth:`load` when not given."""
        self.attached = isinstance(runner, RemoteRunner)
        """The job runs in another process; this is one of its viewers."""
        self.in_service = bool(getattr(runner, "handed_over", False))
        """This dashboard started the job in the per-user service: quitting asks whether to
        leave it running there or to stop it (a plain viewer just leaves)."""
        self.warn: Callable[[str], None] | None = None
        """Hears the one-line warning when the service could not take the job (set by the
        app: the job then runs in this process)."""
        self._pending = self.in_service
        self.running = False
        """A run is in progress (the engine is live)."""
        self.stopping = False
        """Quit was requested: the runner is stopping, the job stays resumable."""
        self.run_exit_code: int | None = None
        """Exit code of the last run, set the moment the run returns."""
        self.run_started_at: float | None = None
        """perf_counter() when the last run started (bench figure)."""
        self.run_ended_at: float | None = None
        """perf_counter() when the last run ended (bench figure)."""
        self._engine: Any = None
        self._done: asyncio.Event = asyncio.Event()
        self._tally: CancelTally | None = None

    @property
    def engine(self) -> Any:
        """The live engine (None until the runner is loaded, kept after it is released)."""
        if self.runner is not None and not self._pending:
            self._engine = self.runner.engine
        return self._engine

    @property
    def viewer(self) -> bool:
        """Attached to a job someone else started (`tui-batch attach`, the jobs screen)."""
        return self.attached and not self.in_service

    @property
    def handing_over(self) -> bool:
        """The job is being handed to the service (its run starts once it is)."""
        return self._pending

    @property
    def where(self) -> str:
        """Said after the job's number in the title: where it runs, seen from here."""
        if self.in_service:
            return " · in the background"
        return " · attached" if self.attached else ""

    def first_rows(self, limit: int) -> list[Any] | None:
        """The job's first ``limit`` task rows from the store, read at once: an index read of
        about a millisecond whatever the job's size (building the runner of 100,000 tasks
        takes seconds), so the dashboard's first frame lists a screenful. None when a runner
        exists (its engine says it all) or the store cannot say."""
        if self.runner is not None and not self._pending:
            return None
        try:
            return self.store.load_tasks(self.job_id, limit=limit)
        except Exception:  # unknown job, broken store: load() says what is wrong
            return None

    async def stored_counts(self) -> dict[str, int] | None:
        """The job's tasks per state as the store has them, read in a thread (a pass over an
        index: tens of milliseconds for 100,000 tasks). None as for :meth:`first_rows`."""
        if self.runner is not None and not self._pending:
            return None
        try:
            return await asyncio.to_thread(self.store.task_counts, self.job_id)
        except Exception:
            return None

    async def load(self) -> Any:
        """Build the runner off the event loop if there is none yet; returns its engine.

        Raises what building it raises (unknown job, broken store, unknown action)."""
        if self.runner is None:
            self.runner = await asyncio.to_thread(JobRunner, self.store, self.job_id)
        elif self._pending:
            await self._hand_over(self.runner)
        elif isinstance(self.runner, RemoteRunner) and not self.runner.engine.info:
            await self.runner.open()  # ControlError: not running (any more)
        assert self.runner is not None
        return self.runner.engine

    async def _hand_over(self, runner: Any) -> None:
        """Give the job to the service and attach to it; when the service cannot take it,
        run it here (never lose the job); when it ended before we could attach, show it."""
        from ..service.handover import EndedRunner, JobEnded, ServiceUnavailable

        try:
            await runner.open()
        except ServiceUnavailable as exc:  # a watch's own runner is its Watcher (``local``)
            build = getattr(runner, "local", None) or (lambda: JobRunner(self.store, self.job_id))
            self.runner = await asyncio.to_thread(build)
            self.attached = self.in_service = False
            if self.warn is not None:
                self.warn(f"{exc}; job {self.job_id} runs in this terminal instead (closing it "
                          "stops the job, resumable)")
        except JobEnded as exc:
            local = await asyncio.to_thread(JobRunner, self.store, self.job_id)
            self.runner = EndedRunner(local, exc.state)  # type: ignore[assignment]
        finally:
            self._pending = False

    # ------------------------------------------------------------------ runs
    def begin(self) -> bool:
        """Mark a new run as started (False when there is no runner or one runs already);
        the caller then awaits :meth:`run`."""
        if self.runner is None or self.running:
            return False
        self.running = True
        self.run_exit_code = None
        self._done = asyncio.Event()
        return True

    async def run(self, on_exit_code: Callable[[int], None]) -> tuple[int, str | None]:
        """Run what is queued; returns ``(exit code, crash text or None)``.

        ``on_exit_code`` hears the code before anyone waiting on the run resumes: a quit that
        follows at once must not read the code of a previous run. Cancelled (app shutdown)
        mid-run, the code is 130 and the cancellation propagates."""
        assert self.runner is not None
        error = None
        code = EXIT_INTERRUPTED  # if this is cancelled (app shutdown) mid-run
        self.run_started_at, self.run_ended_at = time.perf_counter(), None
        try:
            code = await self.runner.run()
        except Exception as exc:  # the runner saved the job as interrupted
            code, error = 1, f"{type(exc).__name__}: {exc}"
        finally:
            self.run_ended_at = time.perf_counter()
            self.run_exit_code = code
            if not getattr(self.runner, "detached", False):  # a viewer that left says nothing
                on_exit_code(code)
            self.running = False
            self._done.set()
        return code, error

    async def wait_finished(self) -> None:
        """Return when the current run (if any) has ended."""
        if self.running:
            await self._done.wait()

    async def stop_and_wait(self) -> None:
        """Stop the runner (the job stays resumable) and wait for the run to end. For a job
        running elsewhere that is leaving it: the job goes on (:meth:`stop_job_and_wait`)."""
        if self.runner is not None and self.running:
            self.stopping = True
            self.runner.stop()
            await self.wait_finished()

    async def stop_job_and_wait(self) -> None:
        """Stop the job itself, wherever it runs (saved, resumable), and wait until it has
        said that it ended: quitting its dashboard with "Stop it"."""
        if self.runner is None or not self.running:
            return
        if not self.attached:
            await self.stop_and_wait()
            return
        self.stopping = True
        self.engine.stop()  # the job's own "stop" control; the run ends with the job
        await self.wait_finished()

    async def release(self) -> None:
        """Stop a run still going and close the runner: its executor and the job's run lock
        are released, so the job can be resumed (by this app or another process)."""
        runner = self.runner
        if runner is None:
            return
        if self.running:
            await self.stop_and_wait()
        self.runner = None
        await runner.aclose()

    def cancel_all(self, bridge: EngineBridge) -> None:
        """Cancel every waiting and running task, counting what the engine really cancels
        (``bridge`` hears its cancellations; see :meth:`cancelled`)."""
        tally = CancelTally(bridge, self.engine)
        self.engine.cancel_all()
        self._tally = tally

    def cancelled(self, run_over: bool = False) -> int | None:
        """How many tasks the last :meth:`cancel_all` cancelled, once every task that was
        running then has ended (or the run is over); None until then, and once told."""
        tally = self._tally
        if tally is not None and tally.settled(run_over or not self.running):
            self._tally = None
            return tally.count
        return None

    # ------------------------------------------------------------- figures
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

    def remaining(self) -> int:
        """Tasks not finished yet: queued, running or interrupted."""
        if self.engine is None:
            return 0
        s = self.engine.snapshot()
        return s.total - s.finished_count

    def idle_state(self) -> str:
        """The state word of a job that is not running: ``ready`` when tasks are queued."""
        stats = self.engine.snapshot() if self.engine is not None else Stats()
        if stats.queued or stats.running:
            return "ready"
        if stats.failed:
            return "failed"
        if stats.cancelled:
            return "cancelled"
        return "done"

    def state_counts(self) -> dict[str, int]:
        """Tasks per state."""
        counts: dict[str, int] = {}
        if self.engine is not None:
            for task in self.engine.tasks.values():
                state = task_state(task)
                counts[state] = counts.get(state, 0) + 1
        return counts

    # ------------------------------------------------------------ controls
    def allows(self, action: str, selected: Callable[[], Any]) -> bool:
        """Whether the dashboard's ``action`` applies in the run's state now (``selected``
        gives the task under the cursor, asked only by the actions that need it)."""
        engine = self.engine
        live = engine is not None and self.running and not self.stopping
        if self.attached and not self.running and not self._pending:  # ended, or left
            return action in VIEW_ACTIONS
        if action == "pause":
            return live and not engine.paused
        if action == "resume":
            return live and engine.paused
        if action == "start":
            if engine is None or self.running:
                return False
            return bool(engine.snapshot().queued)
        if action == "cancel_task":
            task = selected()
            return live and task is not None and not task.state.terminal
        if action == "cancel_all":
            return live
        if action == "retry_failed":
            if engine is None or self.stopping:
                return False
            stats = engine.snapshot()
            return bool(stats.failed or stats.cancelled)
        if action == "workers":  # for this run, or the next one when there is work left
            if engine is None or self.stopping:
                return False
            if live:
                return True
            stats = engine.snapshot()
            return bool(stats.queued or stats.failed or stats.cancelled)
        if action == "priority":
            task = selected()
            return task is not None and task.state is TaskState.QUEUED
        if action == "back":  # a viewer leaves when it likes: the job goes on
            return (not self.running and not self._pending) or self.viewer
        return True

    def outcome(self, exit_code: int, error: str | None, stats: Stats) -> RunOutcome:
        """How the run that ended is told (:func:`run_outcome`); an attached viewer cannot
        run the job again itself, so its toast names the command that does."""
        outcome = run_outcome(exit_code, error, stats)
        if self.attached and outcome.message is not None:
            retry = f"`tui-batch retry {self.job_id}` runs them again"
            message = outcome.message.replace("r retries them", retry)
            outcome = dataclasses.replace(outcome, message=message.replace(
                "r runs them again", retry))
        return outcome

