"""A job as the scheduler holds it in memory (:class:`Entry`), its group (:class:`GroupInfo`),
and the one rule that decides what a job that has not started is waiting for (:func:`verdict`).

Why a module of its own: the rule (dependencies, ``after_any``, a sequential group's turn, a
pause) is applied when a job is submitted, when one it waits for ends, and when jobs are
rebuilt from the store after a restart; keeping it a pure function of the entries makes those
three agree, and keeps :mod:`.core` about timing and threads only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..jobs.states import (
    CANCELLED,
    DEPENDENCY_FAILED,
    DONE,
    FAILED,
    FINAL_STATES,
    PAUSED,
    QUEUED,
    WAITING,
)
from .errors import ErrorInfo

__all__ = ["Entry", "GroupInfo", "verdict"]


@dataclass(eq=False)
class GroupInfo:
    """A group of the scheduler: ``sequential`` runs one member at a time in submission
    order; ``workers`` caps how many members run at once; ``cancel_on_failure`` ends the
    rest as cancelled when one fails."""

    id: int
    name: str | None = None
    sequential: bool = False
    cancel_on_failure: bool = False
    workers: int | None = None
    members: list[int] = field(default_factory=list)
    """Job ids in submission order (ids grow with submission)."""
    running: int = 0


@dataclass(eq=False)
class Entry:
    """One job in the scheduler. Mutated only under the scheduler's lock."""

    id: int
    name: str | None
    kind: str  # "call" or "files"
    priority: int
    seq: int
    func: Callable[..., Any] | None = None
    ref: str | None = None
    exec: str = "io"
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    backoff: float = 1.0
    timeout: float | None = None
    after: tuple[int, ...] = ()
    after_any: tuple[int, ...] = ()
    group: GroupInfo | None = None
    state: str = QUEUED
    reason: str | None = None
    paused: bool = False
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    result: Any = None
    result_kind: str | None = None  # "json", "memory" (not serialisable) or None
    error: ErrorInfo | None = None
    resumable: bool = True
    stamp: int = 0
    """Bumped whenever the entry is (re)queued: heap items with an older stamp are stale."""
    task: Any = None  # the asyncio task running the current attempt
    cancel_reason: str | None = None
    ending: bool = False
    """Its final state is decided and being stored; the state becomes final once committed."""
    done: threading.Event = field(default_factory=threading.Event)
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    dependents: list[int] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _ended_how(state: str) -> str:
    return {FAILED: "failed", CANCELLED: "was cancelled",
            DEPENDENCY_FAILED: "could not run (dependency failed)"}.get(state, state)


def verdict(
    entry: Entry, state_of: Callable[[int], str], entries: Mapping[int, Entry]
) -> tuple[str, str | None]:
    """``(state, reason)`` for a job that has not started: dependency failed, waiting (the
    reason names the job), paused, or queued. ``state_of(id)`` is the state of any job,
    including ones this scheduler does not hold (read from the store)."""
    for dep in entry.after:
        st = state_of(dep)
        if st in FINAL_STATES and st != DONE:
            return DEPENDENCY_FAILED, f"job {dep} {_ended_how(st)}"
    for dep in entry.after:
        if state_of(dep) != DONE:
            return WAITING, f"waiting for job {dep}"
    for dep in entry.after_any:
        if state_of(dep) not in FINAL_STATES:
            return WAITING, f"waiting for job {dep} to end"
    group = entry.group
    if group is not None and group.sequential:
        for other in group.members:
            if other == entry.id:
                break
            if state_of(other) not in FINAL_STATES:
                label = f"group {group.name!r}" if group.name else f"group {group.id}"
                return WAITING, f"waiting for job {other} ({label} runs one job at a time)"
    if entry.paused:
        return PAUSED, "paused by user"
    return QUEUED, None
