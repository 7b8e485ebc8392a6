"""Counting what a "Cancel all" really cancelled.

The confirmation dialog shows how many tasks were left when it opened; by the time the user
answers some of them may have finished, and a running task may still complete before its kill
lands. So the toast does not repeat the dialog's figure: it counts the cancellations the engine
reports from the moment of the action until every task that was running then has ended.
"""

from __future__ import annotations

from typing import Any

from ..model import TaskState
from .messages import EngineBridge


class CancelTally:
    """Take one right before ``engine.cancel_all()``; report ``count`` once ``settled``."""

    def __init__(self, bridge: EngineBridge, engine: Any) -> None:
        self._bridge = bridge
        self._mark = bridge.cancelled_events
        self._pending = [t for t in engine.tasks.values() if t.state is TaskState.RUNNING]

    def settled(self, run_over: bool = False) -> bool:
        """Every task that was running at the action has ended (or the run is over)."""
        return run_over or all(t.state is not TaskState.RUNNING for t in self._pending)

    @property
    def count(self) -> int:
        """Cancellations the engine reported since the tally was taken."""
        return self._bridge.cancelled_events - self._mark
