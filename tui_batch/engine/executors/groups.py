"""Is anything of a process group still alive? (Linux ``/proc``.)

Why it is needed: a command is stopped by signalling its whole process group, and the group
keeps the grace period, not just its leader (issue 7, item 14). A shell leader dies of SIGTERM
at once while a member of its group may still be cleaning up, or may ignore SIGTERM. So when
the leader of a group that is being stopped exits, its zombie is kept unreaped -- a pid cannot
be reused while its zombie exists, so signalling the group id stays safe -- until nothing else
of the group is alive, or the grace ran out and the group got SIGKILL. Only then is the leader
reaped and the attempt over.

Linux has no call that lists a group's members, so this reads ``/proc/<pid>/stat`` of every
process; it is only done for groups being stopped, a few times a second. The fork server
(:mod:`.forkserver`, which may not import this package) carries a copy of
:func:`live_groups`; keep the two in step.
"""

from __future__ import annotations

import contextlib
import os

HOLD_POLL = 0.02
"""Seconds between two looks at the groups whose leader is kept unreaped."""


def live_groups(pgids: set[int]) -> set[int]:
    """The groups of ``pgids`` that still have a live member (zombies do not count).

    When ``/proc`` cannot be read (no descriptor left, not mounted) every group counts as
    alive: the caller then waits for the grace period and SIGKILLs, which is always safe.
    """
    if not pgids:
        return set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return set(pgids)
    alive: set[int] = set()
    for name in names:
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError:
            return set(pgids)
        try:
            data = os.read(fd, 512)
        except OSError:
            continue
        finally:
            os.close(fd)
        fields = data.rpartition(b")")[2].split()
        if len(fields) < 3:
            continue
        pgrp = int(fields[2])
        if pgrp not in pgids or pgrp in alive:
            continue
        if fields[0] in (b"Z", b"X") and not _has_threads(name):
            continue  # dead (a zombie waiting for its parent), unless only its main thread ended
        alive.add(pgrp)
        if alive == pgids:
            break
    return alive


def _has_threads(name: str) -> bool:
    """A process whose main thread exited shows as a zombie while other threads still run."""
    try:
        return len(os.listdir(f"/proc/{name}/task")) > 1
    except OSError:
        return False


def kill_group(pid: int, sig: int) -> None:
    """``killpg`` that does not mind a group that is gone (or was never ours to signal)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
