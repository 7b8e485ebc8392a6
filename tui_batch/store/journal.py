"""The job store's pending-records journal: hot-path records in the OS before they are committed.

Why it exists: :class:`~tui_batch.store.Store` commits task updates in batches, from a writer
thread, every ~20 ms (one SQLite transaction per task would cap the engine at a few thousand
tasks per second). A ``kill -9`` in those 20 ms used to lose every completion of the batch, and
``resume`` then ran those tasks again: up to a dozen per kill. The engine reports a task's end
synchronously, before that worker slot starts its next task, so putting the record in a file
at that moment bounds what a kill can lose to the tasks in flight, one per worker slot.

How it is written matters: the record goes into a shared memory mapping of the file (``mmap``,
``MAP_SHARED``), i.e. straight into the kernel's page cache, which outlives the process (no
fsync: power loss is not the threat here, process death is). Framing and a memcpy, about
1.5 us of CPU, and no system call: an ``os.write`` per record releases the GIL, and the event
loop then waits for the store's busy writer thread to hand it back (up to the 5 ms switch
interval) -- that alone cut the in-process engine to less than half its throughput.

Layout: a folder ``<db>.pending/`` beside the database. Each open store that has written hot-path
records owns two files there, ``<pid>-<random>.0`` and ``.1``, each ``flock``-ed for as long as
the process lives (the kernel drops the lock when it dies, even by ``kill -9``). Appends go to
one of the two; when the writer thread takes a batch it switches appends to the other file, and
once the batch is committed it clears the first. So every record not yet committed is in one of
the two files, and each holds about a batch. Task starts are not journaled (a lost start
changes nothing: the task runs again either way); ends, state changes and priorities are.

Frames and their reading rules: journal_format.py.

Replay (:func:`replay`): the first writer that opens the store afterwards (and ``resume``, before
it looks at a job's tasks) takes the folder's ``.replay`` lock, applies every unlocked (dead)
journal in ``seq`` order in one transaction, then deletes it. Replaying a record that was
already committed is harmless: every record assigns absolute values, and the store's replay
skips one the database has moved past (``batch.apply_replayed``). Readers that may not write
use :func:`pending_records` to show the counts the replay will give, changing nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import secrets
import weakref
from collections.abc import Callable
from typing import Any

from .journal_format import CLEARED, HEADER_SIZE, frame, read_frames

__all__ = ["Journal", "folder_for", "pending_records", "replay"]

SUFFIX = ".pending"
_REPLAY_LOCK = ".replay"
_NEW = ".new-"
_INITIAL = 1 << 20  # bytes per file at first; doubled when a batch needs more


_live: weakref.WeakSet[Journal] = weakref.WeakSet()


def _forget_in_child() -> None:
    """A forked child (a process pool worker) must not keep this process's journals locked:
    after a kill -9 of the parent, a still-busy worker would make them look alive and keep
    them from being replayed. Closing the child's copies leaves the parent's locks alone."""
    for j in list(_live):
        for fd in j._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        j._fds = []
        j.broken = True  # the mappings stay (harmless); the child never writes to them


os.register_at_fork(after_in_child=_forget_in_child)


def folder_for(db_path: str) -> str:
    """The journal folder of the store at ``db_path``."""
    return db_path + SUFFIX


class Journal:
    """This process's two journal files for one open store. Not thread-safe by itself: the
    store calls :meth:`write` and :meth:`swap` under one lock (with its queue append), and
    :meth:`clear` from its writer thread only."""

    def __init__(self, db_path: str) -> None:
        folder = folder_for(db_path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.paths = [os.path.join(folder, f"{token}.{i}") for i in (0, 1)]
        self._fds: list[int] = []
        self._maps: list[mmap.mmap] = []
        try:
            for p in self.paths:
                fd = _create_locked(p)
                self._fds.append(fd)
                # Allocated, not just sized: a store into a hole of a mapped file on a full
                # disk is a SIGBUS; this way a full disk is an OSError here instead.
                os.posix_fallocate(fd, 0, _INITIAL)
                self._maps.append(mmap.mmap(fd, _INITIAL))
        except BaseException:
            self.close(remove=True)
            raise
        self._pos = [0, 0]
        self._cur = 0
        self._dirty = [False, False]
        self._seq = 1
        self.broken = False
        """Journaling stopped (the file could not grow: disk full...); records still go to
        the queue and are committed as before."""
        _live.add(self)

    def write(self, item: tuple[Any, ...]) -> None:
        """Append one record to the current file: in the page cache when this returns."""
        if self.broken:
            return
        seq = self._seq
        self._seq = seq + 1
        data = frame(seq, item)
        cur = self._cur
        mm = self._maps[cur]
        pos = self._pos[cur]
        end = pos + len(data)
        if end + HEADER_SIZE > len(mm) and not self._grow(cur, end + HEADER_SIZE):
            return
        mm[pos:end] = data
        self._pos[cur] = end
        self._dirty[cur] = True

    def _grow(self, index: int, need: int) -> bool:
        size = len(self._maps[index])
        while size < need:
            size *= 2
        try:
            os.posix_fallocate(self._fds[index], 0, size)  # see __init__
            self._maps[index].resize(size)  # ftruncate (a no-op now) + mremap
        except (OSError, ValueError, SystemError):
            self.broken = True
            return False
        return True

    def swap(self) -> int | None:
        """Switch appends to the other file; returns the file to :meth:`clear` once everything
        queued so far is committed (None if nothing was written to it)."""
        old = self._cur
        self._cur = 1 - old
        return old if self._dirty[old] else None

    def clear(self, index: int) -> None:
        """Every record of file ``index`` is committed: empty it for its next turn."""
        self._maps[index][0:HEADER_SIZE] = CLEARED
        self._pos[index] = 0
        self._dirty[index] = False

    def close(self, *, remove: bool) -> None:
        """Release the files; ``remove=False`` leaves them for the next opener to replay."""
        for mm in self._maps:
            with contextlib.suppress(OSError, ValueError, BufferError):
                mm.close()
        self._maps = []
        for p, fd in zip(self.paths, self._fds, strict=False):  # _fds may be cut short
            if remove:
                with contextlib.suppress(OSError):
                    os.unlink(p)  # while still locked: no replayer can take it meanwhile
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
        self.broken = True


def _create_locked(path: str) -> int:
    """Create ``path`` already locked: under a temporary name first, so a replayer never sees
    it unlocked (it would take it for a dead process's journal and delete it)."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, _NEW + name)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(tmp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd


def _groups(folder: str) -> dict[str, list[str]]:
    """Journal files by owner token (``<token>.0`` / ``<token>.1``)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    out: dict[str, list[str]] = {}
    for name in names:
        token, dot, idx = name.rpartition(".")
        if dot and idx in ("0", "1") and not name.startswith("."):
            out.setdefault(token, []).append(os.path.join(folder, name))
    return out


def _read(paths: list[str]) -> list[tuple[Any, ...]]:
    """The records of one owner's files, in the order they were written."""
    recs: list[tuple[int, tuple[Any, ...]]] = []
    for p in paths:
        recs.extend(read_frames(p))
    recs.sort(key=lambda r: r[0])
    return [item for _, item in recs]


def pending_records(db_path: str) -> list[tuple[Any, ...]]:
    """Every journaled record, of live and dead owners, without locking or changing anything
    (for readers: what the store will say once they are committed). Live owners' records are
    at most a batch ahead of the database, so showing them is showing the newest state."""
    out: list[tuple[Any, ...]] = []
    for paths in _groups(folder_for(db_path)).values():
        out.extend(_read(paths))
    return out


def replay(db_path: str, apply: Callable[[list[tuple[Any, ...]]], None]) -> int:
    """Commit (through ``apply``, one transaction) and delete the journals of dead owners.
    Returns how many records were replayed. ``apply`` raising leaves the journal in place."""
    folder = folder_for(db_path)
    if not os.path.isdir(folder):
        return 0
    groups = _groups(folder)
    stale = [n for n in _listdir(folder) if n.startswith(_NEW)]
    if not groups and not stale:
        return 0
    try:
        lock = os.open(os.path.join(folder, _REPLAY_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                       0o600)
    except OSError:
        return 0  # not ours to write: a reader with pending_records() is all we can be
    total = 0
    try:
        # Blocking: a second opener waits until the first has committed what it replays,
        # instead of taking the (locked) journal for a live one and reading stale tasks.
        fcntl.flock(lock, fcntl.LOCK_EX)
        for paths in _groups(folder).values():
            fds = _lock_all(paths)
            if fds is None:
                continue  # its owner is alive
            try:
                items = _read(paths)
                if items:
                    apply(items)
                    total += len(items)
                for p in paths:
                    with contextlib.suppress(OSError):
                        os.unlink(p)
            finally:
                for fd in fds:
                    os.close(fd)
        for name in _listdir(folder):
            if name.startswith(_NEW):  # a creation cut short by a kill
                path = os.path.join(folder, name)
                fds = _lock_all([path])
                if fds is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                    os.close(fds[0])
    finally:
        os.close(lock)
    return total


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _lock_all(paths: list[str]) -> list[int] | None:
    """Lock every file of a group, or none (None: some owner holds its lock, or it is gone)."""
    fds: list[int] = []
    try:
        for p in paths:
            fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        for fd in fds:
            os.close(fd)
        return None
    return fds
