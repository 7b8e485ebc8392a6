"""Commands printed for the user to type later ("resume with: ..."), built in one place.

Why one place: a hint is only worth printing if it works as printed, from another shell, a
cron log or a ticket. ``tui-batch resume 2`` without ``--db`` failed for a job kept in another
store (the demo's lives in its temp tree) or, worse, resumed job 2 of the default store.

The rule for ``--db``: the hint names the store (absolute path, shell-quoted) whenever it is
not the default one of the user data folder, including when it was chosen with
``TUI_BATCH_DB``: that variable is set in the shell that ran the job, not necessarily in the
one the hint is pasted into, and naming the store is harmless where it is set.

A process whose jobs vanish at exit (``tui-batch demo`` without ``--keep`` removes its tree,
store included) says so with :func:`forget_jobs_on_exit`; every hint then says why there is
nothing to resume instead of printing a command that cannot work.
"""

from __future__ import annotations

import os
import shlex

from ..model.dbpath import user_store_path

__all__ = ["default_store_path", "forget_jobs_on_exit", "resume_advice", "resume_command",
           "resume_hint"]

_gone_at_exit: str | None = None


def default_store_path() -> str:
    """The job store used when neither ``--db`` nor ``TUI_BATCH_DB`` is given."""
    return user_store_path()


def _store_path(db: str | os.PathLike[str] | None) -> str:
    if db is None:
        from ..store import Store

        db = Store.default_path()
    return os.path.abspath(os.path.expanduser(os.fspath(db)))


def _is_default(path: str) -> bool:
    default = os.path.abspath(default_store_path())
    return path == default or os.path.realpath(path) == os.path.realpath(default)


def resume_command(job_id: int, db: str | os.PathLike[str] | None = None) -> str:
    """``tui-batch resume ID`` plus ``--db PATH`` when the store is not the default one.

    ``db``: the store's path as opened (``Store.path``); None means the store a bare command
    would open (``TUI_BATCH_DB`` or the user data folder).
    """
    path = _store_path(db)
    cmd = f"tui-batch resume {int(job_id)}"
    if not _is_default(path):
        cmd += f" --db {shlex.quote(path)}"
    return cmd


def forget_jobs_on_exit(reason: str) -> None:
    """This process removes its jobs' files and store when it ends (the demo without
    ``--keep``): hints say ``reason`` instead of a resume command."""
    global _gone_at_exit
    _gone_at_exit = reason


def resume_hint(job_id: int, db: str | os.PathLike[str] | None = None) -> str | None:
    """The resume command, or None when the job will not exist after this process."""
    if _gone_at_exit is not None:
        return None
    return resume_command(job_id, db)


def resume_advice(job_id: int, db: str | os.PathLike[str] | None = None) -> str:
    """A sentence for a person: how to finish the job later, or why it cannot be."""
    hint = resume_hint(job_id, db)
    if hint is None:
        return str(_gone_at_exit)
    return f"the job stays resumable: {hint}"
