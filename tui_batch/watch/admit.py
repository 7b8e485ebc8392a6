"""Admission: exactly one task per content version of a settled file.

A settled file is compared with what the seen table (:class:`~tui_batch.store.WatchState`)
remembers for its path: same size and mtime -> nothing to do; otherwise the content is hashed
(xxh3_128, cached by ``(dev, ino, size, mtime_ns)``) and a task is created only when the digest
differs. 50 writes in a row settle into one task, a later rewrite with new content is a new
task, ``touch`` on an unchanged file is not. A version the action wrote is recorded as an
output, a copy of a processed file as a skipped duplicate (``--dedupe``). A deleted path is
forgotten, so a file arriving again under that name later is a new arrival.

:class:`Admitter` owns these seen-table decisions and the job's new tasks; it runs on a worker
thread, one batch at a time (so the seen table is never raced). It does not watch, settle or
submit: it returns the tasks and the events, the watcher hands them on.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import xxhash

from ..engine import Task, TaskEvent
from ..model import EngineSettings, FileEntry, Priority, TaskState
from ..select import CompiledFilter
from ..store import KIND_DUPLICATE, KIND_OUTPUT, KIND_TASK, NewTask, SeenRow, Store, WatchState
from .events import WatchEvent

__all__ = ["AdmitResult", "Admitter", "Ready", "hash_file"]

_HASH_CACHE = 4096
_CHUNK = 1 << 20
_O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


@dataclass(slots=True)
class Ready:
    """A settled file, as the settle table saw it last."""

    path: str
    size: int
    mtime_ns: int
    own: tuple[int, int] | None  # the version the action itself left there, if any
    sibling_output: bool  # written beside an input while its task ran


@dataclass(slots=True)
class AdmitResult:
    tasks: list[Task] = field(default_factory=list)
    events: list[WatchEvent] = field(default_factory=list)
    again: list[str] = field(default_factory=list)  # changed while being admitted


def hash_file(path: str, size: int, mtime_ns: int) -> bytes | None:
    """xxh3_128 of the content, or None if it changed while being read (or cannot be read)."""
    try:
        fd = os.open(path, _O_FLAGS)
    except OSError:
        return None
    try:
        h = xxhash.xxh3_128()
        got = 0
        while got <= size:  # to EOF (short reads happen on network file systems)
            data = os.read(fd, min(_CHUNK, size + 1 - got))
            if not data:
                break
            got += len(data)
            h.update(data)
        st = os.fstat(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    if got != size or st.st_size != size or st.st_mtime_ns != mtime_ns:
        return None
    return h.digest()


def _existing_copy(others: Iterable[tuple[str, int]], e: FileEntry) -> str | None:
    """Another processed path with this content that still exists (a renamed file whose
    old name is gone is not a duplicate: it is processed under its new name)."""
    for other, size in others:
        if other == e.path or size != e.size:
            continue
        try:
            st = os.stat(other)
        except OSError:
            continue
        if st.st_size == e.size:
            return other
    return None


class Admitter:
    """Turns settled files into the watch job's tasks, and keeps the seen table true.

    ``cf`` selects (the matcher's batch API: folder rules and ignore files worked out once per
    folder per batch), ``stat`` is the watch's stat, ``state``/``watch_row`` the seen table,
    ``store``/``job_id`` where tasks are created with ``settings``' priority and dedupe.
    """

    def __init__(
        self,
        *,
        cf: CompiledFilter,
        stat: Callable[[str], os.stat_result | None],
        state: WatchState,
        watch_row: int,
        store: Store,
        job_id: int,
        settings: EngineSettings,
    ) -> None:
        self.cf = cf
        self._stat = stat
        self.state = state
        self.watch_row = watch_row
        self.store = store
        self.job_id = job_id
        self.settings = settings
        self._hash_cache: OrderedDict[tuple[int, int, int, int], bytes] = OrderedDict()
        self._never_ran: list[tuple[str, int]] = []

    # -- forgetting (loop thread queues, worker thread applies) ------------------------------

    def on_task_event(self, ev: TaskEvent, task: Task) -> None:
        """A task skipped unread (its file vanished or changed): that version never ran, the
        next one must not be taken for it. Applied with the next :meth:`forget`."""
        if ev.state is TaskState.SKIPPED and ev.reason and (
            "vanished" in ev.reason or "changed" in ev.reason
        ):
            self._never_ran.append((task.path, task.id))

    def take_never_ran(self) -> list[tuple[str, int]]:
        """The versions queued by :meth:`on_task_event` so far (the queue is emptied)."""
        taken, self._never_ran = self._never_ran, []
        return taken

    def forget(self, gone: list[str], never_ran: list[tuple[str, int]]) -> None:
        """Forget paths that are gone (with what was under them) and versions that never ran."""
        if gone:
            self.state.forget(self.watch_row, gone, subtree=True)
        for path, task_id in never_ran:
            self.state.forget_task(self.watch_row, path, task_id)

    # -- admission (worker thread) -----------------------------------------------------------

    def _digest(self, e: FileEntry) -> bytes | None:
        key = (e.dev, e.ino, e.size, e.mtime_ns)
        cache = self._hash_cache
        d = cache.get(key)
        if d is not None:
            cache.move_to_end(key)
            return d
        d = hash_file(e.path, e.size, e.mtime_ns)
        if d is not None:
            cache[key] = d
            while len(cache) > _HASH_CACHE:
                cache.popitem(last=False)
        return d

    def _select(self, paths: Sequence[str]) -> dict[str, FileEntry]:
        """The paths a full scan would select, as its FileEntry."""
        return self.cf.entries_for(paths, self._stat)

    def admit(self, ready: list[Ready]) -> AdmitResult:
        """Decide, for settled files, which are new content versions; create their tasks."""
        res = AdmitResult()
        cands: list[tuple[Ready, FileEntry]] = []
        selected = self._select([r.path for r in ready])
        for r in ready:
            e = selected.get(r.path)
            if e is None:
                continue  # not selected after all (size or time bounds, an ignore file)
            if (e.size, e.mtime_ns) != (r.size, r.mtime_ns):
                res.again.append(r.path)
                continue
            cands.append((r, e))
        if not cands:
            return res
        wid = self.watch_row
        seen = self.state.lookup(wid, [e.path for _, e in cands])
        rows: list[SeenRow] = []
        new: list[tuple[FileEntry, bytes, str | None]] = []
        batch_digests: dict[tuple[bytes, int], str] = {}
        dedupe = self.settings.dedupe
        hashed: list[tuple[Ready, FileEntry, bytes]] = []
        for r, e in cands:
            old = seen.get(e.path)
            if old is not None and (old.size, old.mtime_ns) == (e.size, e.mtime_ns):
                continue  # this very version is known (a rescan, a repeated event)
            digest = self._digest(e)
            if digest is None:
                res.again.append(e.path)  # changed while being read
                continue
            hashed.append((r, e, digest))
        copies = (self.state.find_digests(wid, [d for _, e, d in hashed if e.size])
                  if dedupe else {})
        for r, e, digest in hashed:
            old = seen.get(e.path)
            row = SeenRow(e.path, e.size, e.mtime_ns, e.dev, e.ino, digest, KIND_OUTPUT, None)
            # Same bytes as the known version is "unchanged" whoever touched the file: a
            # touch that lands while the file's own task runs is seen by the output guard as
            # a change the action made, and must not be reported as the action's output.
            if old is not None and old.digest == digest:
                row.kind, row.task_id = old.kind, old.task_id
                rows.append(row)
                res.events.append(WatchEvent("unchanged", e.path, old.task_id))
                continue
            if r.own is not None and r.own == (e.size, e.mtime_ns):
                rows.append(row)
                res.events.append(WatchEvent("output", e.path, message="changed by the action"))
                continue
            if r.sibling_output:
                rows.append(row)
                res.events.append(WatchEvent("output", e.path,
                                             message="written by the action beside its input"))
                continue
            dup_of: str | None = None
            if dedupe and e.size > 0:
                dup_of = batch_digests.get((digest, e.size))
                if dup_of is None:
                    dup_of = _existing_copy(copies.get(digest, ()), e)
            if dup_of is None:
                batch_digests.setdefault((digest, e.size), e.path)
            new.append((e, digest, dup_of))
        if new:
            self._create_tasks(new, rows, res)
        self.state.record(wid, rows)
        return res

    def _create_tasks(
        self,
        new: list[tuple[FileEntry, bytes, str | None]],
        rows: list[SeenRow],
        res: AdmitResult,
    ) -> None:
        """Add the new versions to the job (duplicates skipped) and to ``rows``/``res``."""
        prio = int(self.settings.priority)
        ids = self.store.add_tasks(self.job_id, [
            NewTask.from_entry(
                e, priority=prio,
                state=TaskState.SKIPPED.value if dup else TaskState.QUEUED.value,
                reason=f"duplicate of {dup}" if dup else None, duplicate_of=dup,
            )
            for e, _, dup in new
        ])
        # one add_tasks numbers its tasks consecutively in the job: {#} of each, from the first
        seq0 = self.store.get_task(ids[0]).seq + 1 - ids[0] if ids else 0
        for task_id, (e, digest, dup) in zip(ids, new, strict=True):
            kind = KIND_DUPLICATE if dup else KIND_TASK
            rows.append(SeenRow(e.path, e.size, e.mtime_ns, e.dev, e.ino, digest, kind,
                                task_id))
            t = Task(
                id=task_id, path=e.path, root=e.root, rel=e.rel, size=e.size,
                mtime_ns=e.mtime_ns, dev=e.dev, ino=e.ino, priority=Priority(prio),
                seq=seq0 + task_id,
            )
            if dup:
                t.state, t.reason = TaskState.SKIPPED, f"duplicate of {dup}"
                res.events.append(WatchEvent("duplicate", e.path, task_id, data={"of": dup}))
            else:
                res.events.append(WatchEvent("queued", e.path, task_id))
            res.tasks.append(t)
