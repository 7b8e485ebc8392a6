"""Where a job's full task output lives on disk, and how one attempt's share of it is named.

Why a module of its own, in ``model``: the engine writes these files (a command's stdout and
stderr go straight into them, no copy) and the store, the CLI and the TUI read them back, yet
neither side may import the other. This is the contract between them, as plain data.

Layout, per job: ``<db>.logs/job-<id>/`` holds one pair of append-only files per worker slot,
``slot-<k>.out`` and ``slot-<k>.err``. A slot runs one attempt at a time, so an attempt's output
is the byte range ``[off, off + len)`` of its slot's files: a :class:`LogRef`, stored with the
attempt. Bytes past the cap (``--max-output``) are cut off the file when the attempt ends
(``total`` keeps what the command wrote). ``live`` holds one fixed-size :data:`LIVE` record per
slot, rewritten when an attempt starts there, so another process can follow a running task.
A killed run may leave the bytes of an attempt it never recorded: nothing points at them, and
they go when the job is deleted or pruned.

A pipeline (``[[steps]]``, ``--then``) runs one engine per step, each with its own slots, so each
step has its own set of these files: the first step's in the job folder itself (as a job of one
action has them), step N's (counted from 1, N >= 2) in the sub-folder ``step-<N>/`` of it, with
its own ``live`` file (:func:`step_log_dir`). A stored attempt's :class:`LogRef` does not name
its step: the task does (``tasks.step``), and readers derive the folder from it. Task ids are
unique in a job, so a follower that does not know a task's step finds its live record by
looking in every step's ``live`` file (:func:`step_dirs`). Deleting the job folder deletes
every step's logs.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "LIVE",
    "LOGS_SUFFIX",
    "STEP_PREFIX",
    "LogRef",
    "job_log_dir",
    "live_path",
    "slot_paths",
    "step_dirs",
    "step_log_dir",
]

STEP_PREFIX = "step-"
"""A pipeline step's sub-folder of the job folder is this plus the step counted from 1."""

LOGS_SUFFIX = ".logs"
"""The folder of every job's logs is the store's path plus this suffix."""

DEFAULT_MAX_OUTPUT = 10 * 1024 * 1024
"""Bytes kept per stream per attempt unless ``--max-output`` says otherwise."""

LIVE = struct.Struct("<qqiqq")
"""A slot's live record: pid of the running process, task id, attempt, offsets in the out and
err files where the attempt's output starts. Record ``k`` sits at ``(k - 1) * LIVE.size``."""


class LogRef(NamedTuple):
    """Where one attempt's output is: its slot, and per stream the offset, the bytes kept and
    the bytes the command wrote (more than kept when the cap cut it)."""

    slot: int
    out_off: int
    out_len: int
    out_total: int
    err_off: int
    err_len: int
    err_total: int

    def cut(self, stream: str) -> int:
        """Bytes of ``stream`` ("stdout"/"stderr") that were written but not kept."""
        if stream == "stdout":
            return self.out_total - self.out_len
        return self.err_total - self.err_len


def job_log_dir(db_path: str, job_id: int) -> str:
    """The folder of job ``job_id``'s logs, for the store at ``db_path``."""
    return os.path.join(db_path + LOGS_SUFFIX, f"job-{job_id}")


def step_log_dir(job_dir: str, step: int) -> str:
    """The folder of pipeline step ``step`` (0-based, as ``tasks.step``) of a job whose
    folder is ``job_dir``: the job folder itself for the first step (and a job of one
    action), ``job_dir/step-<step + 1>`` for a later one."""
    if step <= 0:
        return job_dir
    return os.path.join(job_dir, f"{STEP_PREFIX}{step + 1}")


def step_dirs(job_dir: str) -> list[tuple[int, str]]:
    """Every step folder that exists in ``job_dir``: (step, 0-based; folder), first step first
    (the job folder itself, listed whether or not it exists)."""
    found = [(0, job_dir)]
    try:
        names = os.listdir(job_dir)
    except OSError:
        return found
    for name in names:
        n = name[len(STEP_PREFIX):]
        if name.startswith(STEP_PREFIX) and n.isdigit() and int(n) >= 2:
            found.append((int(n) - 1, os.path.join(job_dir, name)))
    found.sort()
    return found


def slot_paths(log_dir: str, slot: int) -> tuple[str, str]:
    """The stdout and stderr files of worker slot ``slot`` (1-based)."""
    base = os.path.join(log_dir, f"slot-{slot}")
    return base + ".out", base + ".err"


def live_path(log_dir: str) -> str:
    """The file of the slots' live records (see :data:`LIVE`)."""
    return os.path.join(log_dir, "live")
