"""The dashboard's log pane, following the task under the cursor.

:class:`~.log_pane.LogPane` renders one task; this widget decides what to render it with. The
engine's memory answers at once (state, and the live output of a running task); the attempt
history (every attempt's exit code and output tails) is in the store, and a store read waits
for queued writes, so it is read in a thread, never on the event loop, and kept in a small
cache so moving the cursor back and forth does not read it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from ...model import TaskState
from .log_pane import LogPane
from .task_list import task_state

if TYPE_CHECKING:
    from ...store import Store

CACHED_TASKS = 256
"""Tasks whose attempts are kept (a cache, not a copy of the store)."""


class TaskLog(LogPane):
    """Shows the selected task: from the engine now, with its attempts from the store."""

    def __init__(
        self,
        store: Store,
        selected: Callable[[], Any],
        max_attempts: Callable[[], int],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.store = store
        """Where the attempts are read."""
        self.selected = selected
        """The task to show now (an engine Task), or None."""
        self.max_attempts = max_attempts
        """Attempts a task may have (retries + 1), as the job's settings say now."""
        self._attempts: dict[int, list[Any]] = {}

    def follow(self, engine: Any) -> None:
        """Show the selected task now from the engine's memory; read its attempt history
        from the store in a thread when the one cached is not up to date."""
        task = self.selected()
        if task is None:
            self.show_task(None)
            return
        live = ("", "")
        attempts = self._attempts.get(task.id, [])
        if engine is not None and task.state is TaskState.RUNNING:
            live = engine.live_output(task.id)
        self.show_task(task, live=live, attempts=attempts, max_attempts=self.max_attempts())
        if (
            task.attempts
            and task.state is not TaskState.RUNNING
            and (len(attempts) != task.attempts or attempts[-1].state != task_state(task))
        ):
            self.load_attempts(task.id)

    def refresh_live(self, engine: Any) -> None:
        """Twice a second: a running task's output so far."""
        task = self.selected()
        if task is not None and task.state is TaskState.RUNNING:
            self.follow(engine)

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
        if len(self._attempts) > CACHED_TASKS:
            self._attempts.pop(next(iter(self._attempts)))
        task = self.selected()
        if task is not None and task.id == task_id and self.is_attached:
            self.show_task(task, attempts=attempts, max_attempts=self.max_attempts())
