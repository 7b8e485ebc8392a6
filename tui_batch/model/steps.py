"""The steps of a pipeline: several actions per file, each taking the previous one's output.

Why a module of its own: a recipe's ``[[steps]]`` (and ``--then`` on the command line) make a
job whose every file goes through step 1, then step 2 on step 1's output, and so on. A step is
an action table plus the few settings that may differ per step (workers, retries, timeout,
priority) and whether its output is kept once the next step has used it. The job's
:class:`~.specs.JobSpec` holds the steps; its ``action`` is always the first step's, so code
that knows only one action per job still reads the right one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .enums import Priority
from .limits import SETTINGS

__all__ = ["STEP_KEYS", "StepSpec"]

STEP_KEYS = ("name", "template", "shell", "options", "workers", "retries", "timeout",
             "priority", "keep")
"""The keys of a ``[[steps]]`` table (the action's, then the step's own)."""


@dataclass
class StepSpec:
    """One step: what to run (``action``) and what differs from the job's settings (``None``
    = the job's value). ``keep=False``: this step's output is removed once the next step of
    the same file has succeeded (it is never removed for the last step)."""

    action: Any  # ActionSpec (typed loosely: specs imports this module)
    workers: int | None = None
    retries: int | None = None
    timeout: float | None = None
    priority: Priority | None = None
    keep: bool = True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.action.to_dict())
        for key in ("workers", "retries", "timeout"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.priority is not None:
            d["priority"] = self.priority.name.lower()
        if not self.keep:
            d["keep"] = False
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], index: int) -> StepSpec:
        """From a ``[[steps]]`` table or a stored job; errors name the key as
        ``steps[N].key`` (N counted from 1, as a user counts the tables)."""
        from .specs import ActionSpec

        where = f"steps[{index}]"
        if not isinstance(data, Mapping):
            raise InputError(where, f"expected a table (name or template, options, ...), "
                                    f"got {data!r}")
        unknown = set(data) - set(STEP_KEYS)
        if unknown:
            raise InputError(where, f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
        action_keys = {k: data[k] for k in ("name", "template", "shell", "options") if k in data}
        try:
            action = ActionSpec.from_dict(action_keys)
        except InputError as exc:
            raise InputError(exc.field.replace("action", where, 1), exc.message) from None
        step = cls(action=action)
        for key in ("workers", "retries", "timeout"):
            if data.get(key) is not None:
                value = data[key]
                if key == "workers" and type(value) is int and value < 1:
                    raise InputError(f"{where}.workers", "must be 1 or more")
                setattr(step, key, SETTINGS[key].check(value, f"{where}.{key}"))
        if data.get("priority") is not None:
            raw = data["priority"]
            if isinstance(raw, bool):
                raise InputError(f"{where}.priority", f"unknown priority {raw!r}")
            step.priority = Priority.parse(raw, f"{where}.priority")
        keep = data.get("keep", True)
        if not isinstance(keep, bool):
            raise InputError(f"{where}.keep", f"expected true or false, got {keep!r}")
        step.keep = keep
        return step
