"""Which file a job store is: ``--db``, else ``$TUI_BATCH_DB``, else the user's data folder.

Why a module of its own, in ``model``: every command resolves the store's path the same way,
and the commands that only reach a running job through its socket (``tui-batch pause 7``)
need the path without loading the store's machinery, so the rule lives below the store.
"""

from __future__ import annotations

import os

from ..errors import InputError

__all__ = ["ENV_VAR", "default_path", "expand_user", "missing_store", "resolve_path",
           "user_store_path"]

ENV_VAR = "TUI_BATCH_DB"


def default_path() -> str:
    """Where a store opens without an explicit path: ``$TUI_BATCH_DB`` if set, else the
    user's data folder, so every command (run, jobs, resume) finds the same jobs."""
    env = os.environ.get(ENV_VAR)
    if env:
        return expand_user(env, ENV_VAR)
    return user_store_path()


def user_store_path() -> str:
    """The store in the user's data folder (neither ``--db`` nor ``$TUI_BATCH_DB``)."""
    import platformdirs  # on first use: a command given --db never needs it

    return os.path.join(platformdirs.user_data_dir("tui-batch"), "jobs.db")


def resolve_path(path: str | os.PathLike[str] | None = None) -> str:
    """The absolute file a store opens for ``path`` (None: :func:`default_path`), with
    ``~`` expanded; :class:`InputError` (``--db`` / ``TUI_BATCH_DB``) for an unknown
    ``~user``. Nothing is touched on disk."""
    if path is None:
        return os.path.abspath(default_path())
    return os.path.abspath(expand_user(os.fspath(path), "--db"))


def expand_user(path: str, field: str) -> str:
    """``~`` and ``~user`` expanded as a shell would; an unknown user is refused (InputError
    naming ``field``) instead of becoming a folder literally named ``~user``."""
    if not path.startswith("~"):
        return path
    out = os.path.expanduser(path)
    if out.startswith("~"):
        user = path[1:].split(os.sep, 1)[0]
        raise InputError(field, f"{path}: there is no user {user!r} to expand ~{user} for")
    return out


def missing_store(path: str) -> str:
    """Why no store is seen at ``path``: none there, or a folder on the way that this user may
    not enter (another user's private store looks absent to ``os.path.exists``)."""
    folder = os.path.dirname(path)
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if folder and os.path.isdir(folder) and not os.access(folder, os.X_OK):
        try:
            owner = os.stat(folder).st_uid
        except OSError:
            owner = None
        whose = "" if owner is None or owner == os.getuid() else f" (it belongs to uid {owner})"
        return f"permission denied: cannot look into {folder}{whose}, so no job store at {path}"
    return f"no job store at {path}"
