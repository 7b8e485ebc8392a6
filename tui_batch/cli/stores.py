"""Which job store a command opens, and how: created on demand, existing only, or read-only.

The three differ on purpose. ``run``, ``watch`` and ``demo`` create the store they write to;
``resume`` is about a job already stored, so a mistyped ``--db`` must not make an empty store;
``jobs`` only reads, so it opens read-only (a store the user may read but not write) and never
creates one. The store module is imported on first use, not when the CLI starts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..model.dbpath import missing_store
from .options import fail

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["open_existing_store", "open_store", "open_store_readonly"]


def open_store(db: str | None) -> Store:
    """The store a command writes to (created if it does not exist yet)."""
    from ..store import Store

    return Store(db)


def open_existing_store(db: str | None, job_id: int) -> Store:
    """The store for a command about a job already in it (``resume``): refuse, creating
    nothing, when there is no store at all (a mistyped --db must not make an empty one)."""
    from ..store import ENV_VAR, Store

    path = Store.resolve_path(db)
    if not os.path.exists(path):
        fail("--db" if db is not None or not os.environ.get(ENV_VAR) else ENV_VAR,
             f"{missing_store(path)}, so no job {job_id}")
    return Store(path)


def open_store_readonly(db: str | None) -> Store | None:
    """The store for a command that only reads (``jobs``): opened read-only, so it works on
    a store the user may read but not write, and never creates one. None when no --db or
    TUI_BATCH_DB was given and the default store does not exist yet (nothing was run)."""
    from ..store import ENV_VAR, Store

    path = Store.resolve_path(db)  # InputError for an unknown ~user
    if not os.path.exists(path):
        if db is not None:
            fail("--db", missing_store(path))
        if os.environ.get(ENV_VAR):
            fail(ENV_VAR, missing_store(path))
        return None
    return Store(path, readonly=True)
