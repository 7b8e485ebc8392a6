"""How one attempt of one task is run: the executors, one module per kind.

The engine knows only :class:`Executor` and :class:`Outcome` (:mod:`.base`) and asks
:func:`make_executor` (:mod:`.choose`) for the one that fits an action:

* :class:`SubprocessExecutor` (:mod:`.subprocess`) for command templates, with its spawning
  (:mod:`.spawn`; fork servers: :mod:`.fleet`, :mod:`.forkclient`, :mod:`.forkserver`), its
  output files (:mod:`.spool`) and process groups (:mod:`.groups`);
* :class:`ThreadExecutor` (:mod:`.thread`, on :mod:`.threads`' daemon threads) for blocking
  Python actions, :class:`ProcessExecutor` (:mod:`.process`) for CPU-bound ones and
  :class:`AsyncExecutor` (:mod:`.coro`) for coroutines.

Running out of descriptors or processes is told apart from a task's failure by :mod:`.limits`.
Nothing here imports the engine: the executors see tasks (:mod:`..task`) and contexts only.
"""

from .base import Executor, Outcome
from .choose import make_executor
from .coro import AsyncExecutor
from .forkclient import ForkServerDied
from .process import ProcessExecutor
from .spool import TAIL_BYTES
from .subprocess import DEFAULT_SPAWN, SPAWN_MODES, SubprocessExecutor
from .thread import ThreadExecutor

__all__ = [
    "DEFAULT_SPAWN",
    "SPAWN_MODES",
    "TAIL_BYTES",
    "AsyncExecutor",
    "Executor",
    "ForkServerDied",
    "Outcome",
    "ProcessExecutor",
    "SubprocessExecutor",
    "ThreadExecutor",
    "make_executor",
]
