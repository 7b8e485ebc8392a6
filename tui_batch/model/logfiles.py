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
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "LIVE",
    "LOGS_SUFFIX",
    "LogRef",
    "job_log_dir",
    "live_path",
    "slot_paths",
]

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


def slot_paths(log_dir: str, slot: int) -> tuple[str, str]:
    """The stdout and stderr files of worker slot ``slot`` (1-based)."""
    base = os.path.join(log_dir, f"slot-{slot}")
    return base + ".out", base + ".err"


def live_path(log_dir: str) -> str:
    """The file of the slots' live records (see :data:`LIVE`)."""
    return os.path.join(log_dir, "live")
