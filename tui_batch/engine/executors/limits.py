"""Telling the tool's own resource shortages apart from task failures.

When ``tui-batch`` itself runs out of file descriptors (EMFILE, ENFILE) or processes (EAGAIN
from fork/spawn, a thread that cannot start) while starting an attempt, the file is not at
fault: the engine lowers its concurrency, says so once, and runs the attempt again without
spending one of its retries (issue 7, item 16). Executors mark such outcomes with
``Outcome.resource`` using :func:`shortage`.
"""

from __future__ import annotations

import errno

DESCRIPTORS = "descriptors"
PROCESSES = "processes"
MEMORY = "memory"

_SPAWN_ERRNOS = {
    errno.EMFILE: DESCRIPTORS,
    errno.ENFILE: DESCRIPTORS,
    errno.EAGAIN: PROCESSES,
    errno.ENOMEM: MEMORY,
}
_FD_ERRNOS = {errno.EMFILE: DESCRIPTORS, errno.ENFILE: DESCRIPTORS}

HINTS = {
    DESCRIPTORS: "out of file descriptors",
    PROCESSES: "out of processes",
    MEMORY: "out of memory for new processes",
}
RAISE_HINTS = {
    DESCRIPTORS: "raise `ulimit -n` to run more at once",
    PROCESSES: "raise `ulimit -u` to run more at once",
    MEMORY: "free memory to run more at once",
}


def shortage(exc: BaseException, *, spawning: bool = True) -> str | None:
    """Which of the tool's own resources ran out, or None if ``exc`` is something else.

    ``spawning``: raised while starting a command (fork/spawn, pipes, spool files), where
    EAGAIN and ENOMEM mean the process table or memory is full. Otherwise (inside a Python
    action) only descriptor exhaustion counts: the action shares the engine's descriptor table,
    but an EAGAIN there is the action's own business (non-blocking I/O).
    """
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return PROCESSES
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    return (_SPAWN_ERRNOS if spawning else _FD_ERRNOS).get(exc.errno)


def describe(exc: BaseException) -> str:
    """Short text for the error column when the engine finally gives up on the attempt."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot start: {exc.strerror}"
    return f"cannot start: {exc}"
