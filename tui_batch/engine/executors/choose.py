"""Which executor runs an action: :func:`make_executor`, from the action's declared kind.

The one place that knows every kind, so the engine depends on the interface only
(:mod:`.base`) and adding a kind means adding a module and a line here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ...model import ExecKind
from .coro import AsyncExecutor
from .process import ProcessExecutor
from .subprocess import SubprocessExecutor
from .thread import ThreadExecutor

if TYPE_CHECKING:
    from ...actions import Action
    from ...model import EngineSettings
    from .base import Executor


def make_executor(
    action: Action, settings: EngineSettings, workers: int, log_dir: str | None = None
) -> Executor:
    """The executor that fits the action's declared kind. ``log_dir``: the job's log folder,
    where commands' whole output is kept (:mod:`tui_batch.model.logfiles`)."""
    kind = action.kind
    if kind == ExecKind.SUBPROCESS:
        return SubprocessExecutor(action, kill_grace=settings.kill_grace, workers=workers,
                                  log_dir=log_dir, max_output=settings.max_output)
    func: Any = getattr(action, "func", None)
    if kind == ExecKind.ASYNC:
        return AsyncExecutor(func)
    if kind == ExecKind.PROCESS:
        pool_size = max(workers, os.cpu_count() or 1)
        return ProcessExecutor(getattr(action, "ref", action.name), pool_size)
    return ThreadExecutor(func, workers, kill_grace=settings.kill_grace)
