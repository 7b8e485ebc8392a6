"""What the dashboard says of a pipeline's steps: their names and the line of counts per step.

A pipeline job (``[[steps]]``) runs each file through step 1, then step 2 on its output, and
so on; the dashboard shows a Step column in the task list and one line of counts per step
(``1 extract-text 40/50  2 compress 38/40``: finished of the tasks made so far, a later step's
tasks being made as the files finish the step before). The counts come from the live
pipeline (``Pipeline.step_counts``) or, before it is built, from the store
(``Store.step_counts``); both are lists of tasks per state, step 1 first. Nothing here holds a
widget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape

from ..errors import InputError
from ..model import StepSpec, TaskState

__all__ = ["NAME_WIDTH", "step_names", "steps_line"]

NAME_WIDTH = 18
"""A step's name is cut to this many cells in the line (a long template would fill it)."""

ENDED = (TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED)


def step_names(spec: Mapping[str, Any] | None) -> list[str] | None:
    """The steps' names of a stored job spec (a dict), or None for a one-action job."""
    raw = (spec or {}).get("steps")
    if not isinstance(raw, list) or len(raw) < 2:
        return None
    names = []
    for n, table in enumerate(raw, 1):
        try:
            names.append(StepSpec.from_dict(table, n).action.label)
        except InputError:
            names.append(f"step {n}")
    return names


def _count(counts: Mapping[Any, int], state: TaskState) -> int:
    return int(counts.get(state, 0) or counts.get(state.value, 0))


def _short(name: str) -> str:
    return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"


def steps_line(names: Sequence[str], counts: Sequence[Mapping[Any, int]]) -> str:
    """``1 extract-text 40/50  2 compress 38/40`` as markup: per step, the tasks finished of
    those made, and the failed ones when there are some."""
    parts = []
    for k, name in enumerate(names):
        c = counts[k] if k < len(counts) else {}
        made = sum(int(v) for v in c.values())
        ended = sum(_count(c, s) for s in ENDED)
        failed = _count(c, TaskState.FAILED)
        part = f"[b]{k + 1}[/] {escape(_short(name))} [b]{ended:,}[/]/{made:,}"
        if failed:
            part += f" [b $error]✗{failed:,}[/]"
        parts.append(part)
    return "  ".join(parts)
