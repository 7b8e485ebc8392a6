"""What the engine does when an attempt could not start for the tool's own lack of descriptors
or processes (``Outcome.resource``, see :mod:`.executors.limits`).

The file is not at fault, so the attempt is not counted: the task waits a moment and runs
again, and the engine runs fewer tasks at once (three quarters of what was running when the
shortage hit, leaving room for the rest of the process), saying so once. Only when a single
task, with nothing else running, still cannot start a few times in a row is the shortage not
ours to fix by running less: the attempt then fails like any other, with the real error
(EMFILE...), no traceback.

The engine is seen through :class:`Host` (what this module touches of it), not imported:
:mod:`.core` imports this module.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from ..model import TaskState
from .events import EngineEvent
from .executors import limits

if TYPE_CHECKING:
    from .events import Subscribers
    from .executors.base import Outcome
    from .ledger import Ledger
    from .policy import RetryTimers
    from .task import Task

log = logging.getLogger("tui_batch.engine")

MAX_ALONE = 5
"""Attempts in a row a task may fail to start with nothing else running before it fails."""
FIRST_DELAY = 0.05
MAX_DELAY = 2.0


class Host(Protocol):
    """The parts of :class:`~.core.Engine` the shortage handling reads and changes."""

    _ledger: Ledger
    _subs: Subscribers
    _timers: RetryTimers
    _interrupting: bool

    @property
    def workers(self) -> int: ...

    def set_workers(self, n: int) -> None: ...


class Shortage:
    """Per-engine state: whether the user was told already."""

    def __init__(self, engine: Host) -> None:
        self.engine = engine
        self.warned = False

    def retry(self, task: Task, outcome: Outcome) -> bool:
        """Queue ``task`` again (True), or let it fail normally (False)."""
        eng = self.engine
        kind = outcome.resource or limits.DESCRIPTORS
        # the task itself still counts as running
        others = eng._ledger.counts[TaskState.RUNNING] - 1
        if others <= 0 and eng.workers <= 1 and task.shortages >= MAX_ALONE:
            task.shortages = 0
            return False
        task.shortages += 1
        task.attempts -= 1  # it never ran: neither the retry budget nor the history counts it
        task.exit_code = task.signal = task.error = None
        if eng._interrupting:
            task.reason = "interrupted; runs again on resume"
            eng._ledger.set_state(task, TaskState.INTERRUPTED)
            return True
        # three quarters of what ran when it hit: what the others need (the store, a log
        # file, an import) must find a descriptor too, not just our next attempt
        new = max(1, min(eng.workers - 1, others * 3 // 4))
        if new < eng.workers:
            old = eng.workers
            eng.set_workers(new)
            if not self.warned:
                self.warned = True
                message = (
                    f"tui-batch: {limits.HINTS[kind]} ({outcome.error or kind}) with "
                    f"{others + 1} tasks running: lowering workers from {old} to {new}; tasks "
                    f"that could not start run again ({limits.RAISE_HINTS[kind]})"
                )
                log.warning("%s", message)
                eng._subs.emit(EngineEvent("warning", message.removeprefix("tui-batch: "),
                                           {"reason": kind, "workers": new}))
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (task.shortages - 1))
        task.reason = f"waiting to start ({limits.HINTS[kind]})"
        eng._ledger.set_state(task, TaskState.QUEUED)
        eng._timers.schedule(task, delay)
        return True
