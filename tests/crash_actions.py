"""Process-pool actions that kill their own worker, for the crash tests (tests/test_extract.py).

The process pool finds an action again by ``module:function`` in each worker, so these cannot
live in a test module. In a folder given to them:

* a file named ``*hold*`` is the innocent bystander: its first attempt leaves a ``.held``
  marker and then keeps its worker busy (it is ended when the pool breaks); once the marker
  exists it returns at once, so its attempt on the rebuilt pool succeeds;
* a file named ``*crash*`` waits for that marker (so the bystander's attempt is in flight, and
  was submitted first), then ends its worker the way a broken native parser does;
* every other file returns its size.
"""

from __future__ import annotations

import os
import signal
import time

from tui_batch.actions import TaskContext, action

_LIMIT = 30.0  # seconds; only reached when the behaviour under test is broken


def _marker(ctx: TaskContext) -> str:
    return os.path.join(os.path.dirname(ctx.path), ".held")


def _hold_or_gate(ctx: TaskContext) -> bool:
    """Play the bystander or wait for it; True for the file that must crash."""
    name = os.path.basename(ctx.path)
    marker = _marker(ctx)
    deadline = time.monotonic() + _LIMIT
    if "hold" in name and not os.path.exists(marker):
        open(marker, "w").close()
        while time.monotonic() < deadline:
            time.sleep(0.01)
    if "crash" in name:
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.005)
        return True
    return False


@action(kind="cpu")
def segfault_on_crash(ctx: TaskContext) -> str | None:
    """SIGSEGV for a file named ``*crash*`` (see the module docstring)."""
    if _hold_or_gate(ctx):
        os.kill(os.getpid(), signal.SIGSEGV)
    return str(os.path.getsize(ctx.path))


@action(kind="cpu")
def exit_on_crash(ctx: TaskContext) -> str | None:
    """``os._exit(3)`` for a file named ``*crash*``: a worker gone without a signal."""
    if _hold_or_gate(ctx):
        os._exit(3)
    return str(os.path.getsize(ctx.path))


@action(kind="cpu")
def term_on_crash(ctx: TaskContext) -> str | None:
    """SIGTERM to itself for a file named ``*crash*``: the signal the pool ends the innocent
    workers with, so only the moment of death tells the culprit."""
    if _hold_or_gate(ctx):
        os.kill(os.getpid(), signal.SIGTERM)
    return str(os.path.getsize(ctx.path))
