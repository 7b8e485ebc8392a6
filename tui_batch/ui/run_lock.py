"""Who runs a job right now, as the jobs screen says it, and deleting a job safely.

:mod:`tui_batch.store.locks` is the one place that reads run locks (an flock the kernel drops when
its holder dies, holding the holder's pid). The jobs screen uses it to refuse deleting or
resuming a job that a process is running, and to say which process that is; a delete also
holds the job's run lock while it deletes, so no run can start in between.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from ..errors import InputError
from ..store import Store, job_liveness, lock_job, unlock_job


def describe_runner(pid: int | None) -> str:
    """``process pid 1234``, ``this tui-batch (pid 1234) ...`` or ``another process``."""
    if pid is None:
        return "another process"
    if pid == os.getpid():
        return f"this tui-batch (pid {pid}), in an open dashboard"
    return f"process pid {pid}"


def runner_of(store: Store, job: Any) -> tuple[bool, int | None]:
    """``(running, pid)`` for a job summary (its stored spec and state spare a store read)."""
    return job_liveness(store, job.id, spec=job.spec, state=job.state)


@contextlib.contextmanager
def holding_run_lock(store: Store, job_id: int) -> Iterator[None]:
    """Hold the job's run lock for the block, or raise :class:`InputError` naming the
    process that runs the job."""
    running, pid = job_liveness(store, job_id)
    if running:  # also a watch, which runs its job under its own lock
        raise InputError("JOB_ID", f"job {job_id} is running in {describe_runner(pid)}")
    try:
        fd = lock_job(store, job_id)
    except InputError:
        running, pid = job_liveness(store, job_id)
        raise InputError(
            "JOB_ID", f"job {job_id} is running in {describe_runner(pid)}"
        ) from None
    try:
        yield
    finally:
        unlock_job(fd)
