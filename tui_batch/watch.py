"""Watch mode: keep running, and run the action once on every new or changed file.

Built on :func:`watchfiles.awatch` (the same async generator headless and in a Textual worker),
with the pieces a watch folder needs that a file-change stream does not give:

**Events are hints, the file system is the truth.** watchfiles hands over sets of
``(change, path)`` without order (an added and a deleted event for one path can arrive in one
set), with no close-write event, and 'added' fires after the first bytes. So an event only
means "look at this path": it is ``stat``-ed and put into a *settle table*; it is admitted only
once its size and mtime have stayed the same for the settle window (``--settle``, 2 s). Each
new stat restarts the window, so a file written in chunks over minutes is admitted once, after
the last write. The window is measured from the file's mtime when that is recent (up to half
the window is credited), so the latency from a file's last write to its task is the settle
window plus a few milliseconds, not plus the event delivery delay.

**Temporary names are not files yet.** ``*.part``, ``*.crdownload``, ``*.tmp``, ``*.swp``,
``.~*``, ``~$*``, ``.#*``, tui-batch's own ``.tbtmp-`` outputs and a few more
(:data:`TEMP_PATTERNS`) are ignored until renamed; the rename is an 'added' event for the
final name.

**Exactly one task per content version.** On admission the path's version is compared with
what :class:`~tui_batch.watch_state.WatchState` remembers: same size and mtime -> nothing to do;
otherwise the content is hashed (xxh3_128, cached by ``(dev, ino, size, mtime_ns)``) and a task
is created only when the digest differs. 50 writes in a row settle into one task, a later
rewrite with new content is a new task, ``touch`` on an unchanged file is not. A path that is
deleted is forgotten, so a file arriving again under that name later is a new arrival.

**Nothing missed.** At start a scan of the roots queues what arrived while tui-batch was not
running (and nothing it already processed); a periodic reconcile scan (``--rescan``, 300 s),
plus one shortly after every burst of events, catches events the kernel dropped (inotify's
queue overflows silently under bursts). ``--poll`` polls instead of using inotify (network
file systems), and hitting the inotify watch or instance limit switches to polling with a
warning instead of failing. A folder moved into a root is walked, since only the folder itself
produces an event.

**Outputs are not inputs.** ``--out`` inside a root is excluded (as in ``run``); an input the
action modified in place, and files the action wrote beside its input while it ran (no
``--out``: in the same folder, the input's name plus a suffix (``a.txt.gz``, ``a.txt_1``) or
its stem with another extension (``a.png``), written while the task ran), are remembered as
outputs and never queued, also across restarts; each is reported (``output`` event).

**Bounded.** Settled paths leave the settle table, the engine keeps only the last
``retain_finished`` finished tasks (counters keep counting), the hash cache and the
recent-output tables are bounded, and what was seen lives in SQLite, not in memory.

**Tasks live in one job per watch identity** (roots + filter + action + ``--out``, or
``--watch-id``). Restarting the same watch reuses that job, runs what it left queued or running
(at-least-once for those, as ``resume``), and ``tui-batch jobs`` shows its counts growing.

No Textual here: the TUI drives a :class:`Watcher` through ``engine``, ``subscribe`` and
``stop`` like the headless CLI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fnmatch
import hashlib
import heapq
import json
import logging
import os
import re
import stat as _stat
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import xxhash
from watchfiles import Change, awatch

from .actions.output import TEMP_MARKER
from .engine import Engine, Event, Stats, Task, TaskEvent
from .errors import InputError, TuiBatchError
from .filters import CompiledFilter, compile_filter
from .jobs import DONE, INTERRUPTED, RUNNING, _scan_filter, mirror_event, resolve_checked_action
from .limits import RESCAN, RETAIN, SETTLE
from .model import FileEntry, FilterSpec, JobSpec, Priority, TaskState
from .scanner import ScanIssue, scan
from .store import NewTask, Store
from .watch_state import (
    KIND_DUPLICATE,
    KIND_OUTPUT,
    KIND_TASK,
    SeenRow,
    WatchLock,
    WatchState,
    identity_key,
)

__all__ = [
    "DEFAULT_RESCAN",
    "DEFAULT_SETTLE",
    "TEMP_PATTERNS",
    "WatchError",
    "WatchEvent",
    "Watcher",
    "idle_since_wall",
    "is_temp_name",
    "is_watch_limit_error",
    "watch_identity",
]

log = logging.getLogger(__name__)

DEFAULT_SETTLE = 2.0
DEFAULT_RESCAN = 300.0
DEFAULT_RETAIN = 2000
ON_STOP_CHOICES = ("finish", "stop")

TEMP_PATTERNS: tuple[str, ...] = (
    "*.tmp", "*.temp", "*.part", "*.partial", "*.crdownload", "*.download", "*.opdownload",
    "*.filepart", "*.!ut", "*.!qb", "*.aria2", "*.swp", "*.swo", "*.swx", "*~",
    ".~*", "~$*", ".#*", "*.sb-*",
)
"""Names of files that are still being written (browsers, download managers, editors, office
suites, WinSCP, aria2, macOS safe-save) and are renamed when complete. Case-insensitive."""

_STATE_LEFT = ("queued", "running", "interrupted")
_BURST = 500  # changes in one batch that make a reconcile scan worth it (inotify may drop)
_DEBOUNCE_MS = 400  # longest watchfiles groups changes before handing them over
_BURST_QUIET = _DEBOUNCE_MS / 1000 + 0.6  # ... that scan starts once the burst is over
_MTIME_SLACK = 0.02  # file timestamps come from a coarse clock (one kernel tick, <= 10 ms)
_HASH_CACHE = 4096
_OWN_MAX = 10_000
_RUN_GRACE = 2.0  # seconds after a task ends during which its siblings count as its outputs
_STAT_IN_THREAD = 256  # more due paths than this: stat them off the event loop
_CHUNK = 1 << 20
_O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


class WatchError(TuiBatchError):
    """The watch cannot go on (a root vanished, the watcher failed without a fallback)."""


@dataclass(slots=True)
class WatchEvent:
    """Something the watcher did, for the dashboard and the headless output.

    ``kind``: ``watching`` (listening; ``message`` is ``inotify`` or ``polling``),
    ``arrived`` (a file entered the settle window), ``queued`` (a task was created;
    ``task_id``), ``duplicate`` (a task was created skipped: same content as ``data["of"]``),
    ``unchanged`` (touched but same content: no task), ``output`` (written by the action:
    ignored), ``scan`` (a reconcile scan ended; ``data``: ``reason``, ``new``), ``warning``,
    ``stopping``.
    """

    kind: str
    path: str | None = None
    task_id: int | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ helpers


def _temp_regex(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), re.IGNORECASE | re.S)


_DEFAULT_TEMP_RE = _temp_regex(TEMP_PATTERNS)


def is_temp_name(name: str, extra: re.Pattern[str] | None = None) -> bool:
    """Is this base name a file still being written (renamed when complete)?"""
    if TEMP_MARKER in name or _DEFAULT_TEMP_RE.match(name):
        return True
    return extra is not None and extra.match(name) is not None


def is_watch_limit_error(exc: BaseException) -> bool:
    """Did the OS refuse more watches (inotify ``max_user_watches`` / ``max_user_instances``)?

    watchfiles reports a watch that cannot be added as ``OSError("OS file watch limit reached.
    (... MaxFilesWatch ...)")`` when it starts, a limit hit later (a new sub-folder) as
    ``WatchfilesRustInternalError("error in underlying watcher: OS file watch limit reached.")``,
    and a refused inotify instance as ``... Too many open files (os error 24)``.
    """
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EMFILE):
        return True
    text = str(exc).lower()
    return any(
        m in text
        for m in ("watch limit", "maxfileswatch", "max_user_watches", "too many open files",
                  "os error 28", "os error 24", "no space left on device")
    )


def idle_since_wall(st: Stats) -> float | None:
    """``Stats.idle_since`` (monotonic) as epoch seconds, for "idle since 14:02:11"."""
    if st.idle_since is None:
        return None
    return time.time() - (time.monotonic() - st.idle_since)


def watch_identity(spec: JobSpec, watch_id: str | None = None) -> tuple[str, str]:
    """``(identity, label)`` of a watch: what its remembered state and its job belong to.

    Roots, filter, action and output folder decide it, so the same command line finds its
    state again after a restart and a different filter or action starts afresh. Relative
    ``--newer``/``--older`` values are left out (they are re-anchored at every start).
    ``--watch-id NAME`` names it instead (keep the state while changing the command).
    """
    if watch_id:
        return f"id:{watch_id}", watch_id
    flt = spec.filter.to_dict()
    flt["roots"] = [os.path.abspath(r) for r in spec.filter.roots]
    flt.pop("newer", None)
    flt.pop("older", None)
    canon = {
        "filter": flt,
        "action": spec.action.to_dict(),
        "out": os.path.abspath(spec.settings.out_dir) if spec.settings.out_dir else None,
    }
    digest = hashlib.sha256(json.dumps(canon, sort_keys=True).encode("utf-8", "surrogateescape"))
    label = " ".join(flt["roots"])
    return f"auto:{digest.hexdigest()[:16]}", label


def _hash_file(path: str, size: int, mtime_ns: int) -> bytes | None:
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


def _leaf_errors(exc: BaseException) -> list[BaseException]:
    """The real errors inside (nested) exception groups (awatch runs in an anyio task group)."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for e in exc.exceptions:
            out.extend(_leaf_errors(e))
        return out or [exc]
    return [exc]


# ------------------------------------------------------------------------------------ state


@dataclass(slots=True)
class _Pending:
    """A path in the settle table. ``sig`` is what the last stat saw: (size, mtime_ns, dev,
    ino) for a file, "dir" for a folder, None when missing."""

    path: str
    sig: tuple[int, int, int, int] | str | None
    due: float
    last_event: float | None


@dataclass(slots=True)
class _Ready:
    path: str
    size: int
    mtime_ns: int
    own: tuple[int, int] | None  # the version the action itself left there, if any
    sibling_output: bool  # written beside an input while its task ran


@dataclass(slots=True)
class _Run:
    name: str
    stem: str
    start: float
    end: float | None = None


@dataclass(slots=True)
class _AdmitResult:
    tasks: list[Task] = field(default_factory=list)
    events: list[WatchEvent] = field(default_factory=list)
    again: list[str] = field(default_factory=list)  # changed while being admitted


def _sig(st: os.stat_result | None) -> tuple[int, int, int, int] | str | None:
    if st is None:
        return None
    if _stat.S_ISDIR(st.st_mode):
        return "dir"
    if _stat.S_ISREG(st.st_mode):
        return (st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)
    return "other"


# ------------------------------------------------------------------------------------ watcher


class Watcher:
    """Watches the roots of a job spec and feeds every new file version to a live engine.

    Use (headless or from a Textual worker)::

        watcher = Watcher(spec, store, settle=2.0)
        watcher.subscribe(on_watch_event)      # WatchEvent: arrived, queued, ...
        watcher.engine.subscribe(on_engine)    # TaskEvent / StatsEvent as for `run`
        code = await watcher.run()             # until stop(); 0 (or 130 after interrupt())
        watcher.stop()                         # from a signal handler or a key binding

    The constructor opens (or reuses) the watch's job and queues what the last session left
    unfinished; ``engine`` and ``job_id`` are ready before :meth:`run`. It raises
    :class:`InputError` for bad settings and when the same watch already runs elsewhere.
    """

    def __init__(
        self,
        spec: JobSpec,
        store: Store,
        *,
        settle: float = DEFAULT_SETTLE,
        poll: bool = False,
        rescan: float | None = DEFAULT_RESCAN,
        on_stop: str = "finish",
        watch_id: str | None = None,
        temp_patterns: Sequence[str] = (),
        retain_finished: int = DEFAULT_RETAIN,
        poll_delay_ms: int = 300,
        stats_interval: float = 0.25,
    ) -> None:
        # the CLI's ranges (nan, inf and absurd values refused) for API users too; the API may
        # rescan more often than the CLI's one-second floor (tests, tight loops on purpose)
        SETTLE.check(settle)
        if rescan is not None:
            RESCAN.check(rescan)
        RETAIN.check(retain_finished)
        if on_stop not in ON_STOP_CHOICES:
            raise InputError("--on-stop", f"must be one of {', '.join(ON_STOP_CHOICES)}")
        for pat in temp_patterns:
            if not pat or "/" in pat:
                raise InputError("--temp", f"not a file-name pattern: {pat!r}")
        self.store = store
        self.settle = float(settle)
        self.poll = poll
        self.rescan = rescan or None
        self.on_stop = on_stop
        self.poll_delay_ms = poll_delay_ms
        # Absolute roots: events, scans and the store then agree on one spelling of each path.
        flt = FilterSpec(**{**spec.filter.to_dict(),
                            "roots": [os.path.abspath(r) for r in spec.filter.roots]})
        self.spec = JobSpec(filter=flt, action=spec.action, settings=spec.settings,
                            name=spec.name)
        self.action = resolve_checked_action(self.spec)
        scan_filter = _scan_filter(self.spec)
        self.cf: CompiledFilter = compile_filter(scan_filter)
        self.roots: tuple[str, ...] = tuple(flt.roots)
        self.multi_root = len(self.roots) > 1
        self.out_dir = self.spec.settings.out_dir
        # --out inside a root: its events are dropped before any stat (the filter excludes
        # it too; this is the cheap early exit for what can be a stream of output writes).
        self._out_prefixes: tuple[str, ...] = ()
        if self.out_dir:
            outs = {os.path.abspath(self.out_dir), os.path.realpath(self.out_dir)}
            self._out_prefixes = tuple(
                o.rstrip("/") + "/" for o in outs
                if any(o.startswith(r.rstrip("/") + "/") for r in self.roots)
            )
        self._temp_extra = _temp_regex(temp_patterns) if temp_patterns else None
        self._guard_siblings = not self.out_dir
        self.identity, self.label = watch_identity(self.spec, watch_id)

        self.state = WatchState(store.path)
        self._lock = WatchLock(store.path, identity_key(self.identity))
        try:
            self._lock.acquire()
            self._open_job(retain_finished, stats_interval)
        except BaseException:
            self._lock.release()
            self.state.close()
            raise

        self._subscribers: list[Callable[[WatchEvent], None]] = []
        self._pending: dict[str, _Pending] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._hash_cache: OrderedDict[tuple[int, int, int, int], bytes] = OrderedDict()
        self._own: OrderedDict[str, tuple[int, int]] = OrderedDict()
        # tasks running (by folder, then input path) and recently ended (by folder, oldest
        # first): what the sibling-output rule looks at; both stay small
        self._running: dict[str, dict[str, _Run]] = {}
        self._ended: dict[str, deque[_Run]] = {}
        self._forget_tasks: list[tuple[str, int]] = []
        self._polling = poll
        self._stopping = False
        self._interrupted = False
        self._fatal: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._watch_stop: asyncio.Event | None = None
        self._rescan_now: asyncio.Event | None = None
        self._rescan_after = 0.0
        self._rescan_requested = False
        self._start_roots: tuple[tuple[int, int] | None, ...] = ()
        self._scan_cancel = threading.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._closed = False
        self.ready = asyncio.Event()
        """Set once the OS watch is in place: files written from then on are noticed (those
        from before, by the start-up scan that begins right after)."""
        self.mode = "polling" if poll else "inotify"
        """How changes are noticed: ``inotify`` (the OS's notifications) or ``polling``."""

    # -- set-up ------------------------------------------------------------------------------

    def _open_job(self, retain_finished: int, stats_interval: float) -> None:
        """Find or create the watch's job, and take over what the last session left."""
        self.watch_row, job_id = self.state.open_watch(self.identity, self.label)
        if job_id is not None:
            try:
                self.store.get_job(job_id)
            except TuiBatchError:
                job_id = None  # the job was deleted: start a new one
        self.resumed = job_id is not None
        if job_id is None:
            data = self.spec.to_dict()
            data["multi_root"] = self.multi_root
            data["watch"] = {"identity": self.identity, "settle": self.settle,
                             "rescan": self.rescan, "poll": self.poll}
            job_id = self.store.create_job(data, name=f"watch {self.label}")
            self.state.set_job(self.watch_row, job_id)
        self.job_id: int = job_id
        self.store.recover_interrupted(job_id)
        self.engine = Engine(
            self.action,
            self.spec.settings,
            out_dir=self.out_dir,
            multi_root=self.multi_root,
            keep_open=True,
            options=self.spec.action.options,
            retain_finished=max(1, retain_finished),
            stats_interval=stats_interval,
        )
        left = self.store.load_tasks(job_id, states=_STATE_LEFT)
        tasks = [
            Task(
                id=r.id, path=r.path, root=r.root, rel=r.rel, size=r.size, mtime_ns=r.mtime_ns,
                dev=r.dev, ino=r.ino, priority=Priority(r.priority), state=TaskState(r.state),
                attempts=r.attempts, exit_code=r.exit_code, error=r.error, reason=r.reason,
                retry_base=r.attempts,
            )
            for r in left
        ]
        self.leftover = len(tasks)
        """Tasks the previous session of this watch left queued or running (run again)."""
        self.state.adopt_tasks(
            self.watch_row,
            [SeenRow(t.path, t.size, t.mtime_ns, t.dev, t.ino, None, KIND_TASK, t.id)
             for t in tasks],
        )
        self.engine.submit(tasks)
        self.engine.subscribe(self._on_engine_event)

    # -- public API --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`WatchEvent`, on the loop thread."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    @property
    def settling(self) -> int:
        """Files waiting for their size and mtime to stay put (the settle window)."""
        return sum(1 for p in self._pending.values() if isinstance(p.sig, tuple))

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self, mode: str | None = None) -> None:
        """Stop watching and end :meth:`run` (SIGTERM, SIGHUP, quit). Idempotent; a second
        call stops running tasks at once (and a third kills them).

        ``mode`` (default: ``on_stop``): ``finish`` lets running tasks end within the
        engine's kill grace, then stops what is left; ``stop`` stops them now. Tasks stopped
        or never started stay in the job and run when the watch starts again.
        """
        if self._stopping:
            self.engine.stop()
            return
        self._stopping = True
        self._emit(WatchEvent("stopping", message=mode or self.on_stop))
        self._scan_cancel.set()
        if self._watch_stop is not None:
            self._watch_stop.set()
        if self._wake is not None:
            self._wake.set()
        if self._rescan_now is not None:
            self._rescan_now.set()
        if (mode or self.on_stop) == "stop" or self._loop is None:
            self.engine.stop()
        else:
            self.engine.pause()
            self._tasks.append(self._loop.create_task(self._finish_running()))

    def interrupt(self) -> None:
        """Ctrl-C: like ``stop("stop")``, and :meth:`run` returns 130."""
        self._interrupted = True
        self.stop("stop")

    async def run(self) -> int:
        """Watch until :meth:`stop`; returns 0 (130 after :meth:`interrupt`).

        Raises :class:`WatchError` when watching becomes impossible (state is saved first).
        """
        if not self._stopping:
            await asyncio.to_thread(self.store.set_job_state, self.job_id, RUNNING)
        if self._stopping:  # stopped before it started
            await asyncio.shield(asyncio.to_thread(self._save))
            return 130 if self._interrupted else 0
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._wake = asyncio.Event()
        self._watch_stop = asyncio.Event()
        self._rescan_now = asyncio.Event()
        # (no await between here and the engine's first step: a stop() from now on reaches
        # a running engine)
        engine_task = loop.create_task(self.engine.run())
        watch_task = loop.create_task(self._watch_loop())
        watch_task.add_done_callback(self._on_watch_done)
        settle_task = loop.create_task(self._settle_loop())
        scan_task: asyncio.Task[None] | None = None
        try:
            ready = loop.create_task(self.ready.wait())
            await asyncio.wait({ready, watch_task, engine_task},
                               return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if self.ready.is_set() and not self._stopping:
                scan_task = loop.create_task(self._rescan_loop())
            await engine_task
        finally:
            self._stopping = True
            self._scan_cancel.set()
            self._watch_stop.set()
            self._wake.set()
            self._rescan_now.set()
            if not engine_task.done():
                self.engine.stop()
                with contextlib.suppress(BaseException):
                    await engine_task
            for t in (watch_task, settle_task, scan_task, *self._tasks):
                if t is None:
                    continue
                if t is not settle_task:  # an admission in flight is finished, not dropped
                    t.cancel()
                with contextlib.suppress(BaseException):
                    await t
            await asyncio.shield(asyncio.to_thread(self._save))
        if self._fatal is not None:
            raise WatchError(f"watching stopped: {self._fatal}") from self._fatal
        return 130 if self._interrupted else 0

    async def aclose(self) -> None:
        """Release the engine's executor, the watch state and the watch lock."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.engine.aclose()
        finally:
            self.state.close()
            self._lock.release()

    # -- internals: events out ---------------------------------------------------------------

    def _emit(self, ev: WatchEvent) -> None:
        for cb in list(self._subscribers):
            try:
                cb(ev)
            except Exception:  # a broken client must not stop the watch
                log.exception("watch subscriber %r failed; unsubscribed", cb)
                with contextlib.suppress(ValueError):
                    self._subscribers.remove(cb)

    def _warn(self, message: str, path: str | None = None) -> None:
        log.warning("%s", message)
        self._emit(WatchEvent("warning", path, message=message))

    # -- internals: stopping -----------------------------------------------------------------

    async def _finish_running(self) -> None:
        """--on-stop finish: no new task starts; running ones get the kill grace to end."""
        deadline = time.monotonic() + max(0.0, self.engine.settings.kill_grace)
        while self.engine.snapshot().running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.engine.stop()

    def _on_watch_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self._stopping:
            self._fatal = exc
            self._warn(f"watching failed: {exc}")
            self.stop("finish")

    def _save(self) -> None:
        self.store.flush()
        counts = self.store.task_counts(self.job_id)
        left = sum(counts.get(s, 0) for s in _STATE_LEFT)
        self.store.set_job_state(self.job_id, INTERRUPTED if left else DONE)

    # -- internals: the store mirror and output recognition ----------------------------------

    def _on_engine_event(self, ev: Event) -> None:
        """Mirror engine events into the store (as JobRunner does) and learn what the action
        itself wrote."""
        mirror_event(self.store, self.engine, ev)
        if type(ev) is TaskEvent:
            state = ev.state
            task = self.engine.tasks.get(ev.task_id)
            if state is TaskState.RUNNING:
                if task is not None and self._guard_siblings:
                    self._run_started(task)
                return
            if task is None or (not state.terminal and state is not TaskState.INTERRUPTED):
                return
            if self._guard_siblings:
                self._run_ended(task)
            if state is TaskState.DONE:
                self._note_own_version(task)
            elif state is TaskState.SKIPPED and ev.reason and (
                "vanished" in ev.reason or "changed" in ev.reason
            ):
                # that version never ran: the next one must not be taken for it
                self._forget_tasks.append((task.path, task.id))

    def _note_own_version(self, task: Task) -> None:
        """An input the action changed in place is the action's output, not a new arrival."""
        try:
            st = os.stat(task.path) if self.cf.follow else os.lstat(task.path)
        except OSError:
            return
        if (st.st_size, st.st_mtime_ns) != (task.size, task.mtime_ns):
            self._own[task.path] = (st.st_size, st.st_mtime_ns)
            self._own.move_to_end(task.path)
            while len(self._own) > _OWN_MAX:
                self._own.popitem(last=False)

    def _run_started(self, task: Task) -> None:
        folder, name = os.path.split(task.path)
        stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
        self._running.setdefault(folder, {})[name] = _Run(name, stem, time.monotonic())

    def _run_ended(self, task: Task) -> None:
        folder, name = os.path.split(task.path)
        running = self._running.get(folder)
        run = running.pop(name, None) if running else None
        if running is not None and not running:
            del self._running[folder]
        if run is None:
            return
        now = time.monotonic()
        run.end = now
        ended = self._ended.setdefault(folder, deque())
        ended.append(run)
        while ended and (now - (ended[0].end or now) > _RUN_GRACE * 2 or len(ended) > 1000):
            ended.popleft()
        if len(self._ended) > 1000:  # many folders: drop those whose runs are all old
            for f in [f for f, d in self._ended.items() if now - (d[-1].end or now) > 10]:
                del self._ended[f]

    def _written_by_a_run(self, path: str, when: float | None) -> bool:
        """Was this path written beside an input while that input's task ran (or just after:
        its events arrive late)?"""
        if when is None:
            return False
        folder, name = os.path.split(path)
        runs = list(self._running.get(folder, {}).values())
        runs.extend(self._ended.get(folder, ()))
        for r in runs:
            # "a.txt" -> "a.txt.gz", "a.txt_1", "a.png", "a.1.png"; not "a_2.txt", "ab.txt"
            if r.name == name or not (
                name.startswith(r.stem + ".")
                or (name.startswith(r.name) and name[len(r.name) : len(r.name) + 1] in ("_", "-"))
            ):
                continue
            end = r.end if r.end is not None else when
            if r.start - 0.05 <= when <= end + _RUN_GRACE:
                return True
        return False

    # -- internals: watching -----------------------------------------------------------------

    def _open_watch(self, polling: bool) -> Any:
        """The watchfiles generator (a method so tests can provoke the limit fallback)."""
        assert self._watch_stop is not None
        return awatch(
            *self.roots,
            watch_filter=None,
            debounce=_DEBOUNCE_MS,
            step=50,
            stop_event=self._watch_stop,
            rust_timeout=1000,
            yield_on_timeout=True,  # a heartbeat every quiet second: the roots are checked
            force_polling=polling,
            poll_delay_ms=self.poll_delay_ms,
            recursive=True,
            ignore_permission_denied=True,
        )

    def _root_ids(self) -> tuple[tuple[int, int] | None, ...]:
        ids: list[tuple[int, int] | None] = []
        for r in self.roots:
            try:
                st = os.stat(r)
                ids.append((st.st_dev, st.st_ino) if _stat.S_ISDIR(st.st_mode) else None)
            except OSError:
                ids.append(None)
        return tuple(ids)

    def _roots_unchanged(self) -> bool:
        """The roots are the folders the watch started on (not deleted, replaced or
        unmounted): only then may remembered files be forgotten for being absent."""
        return self._root_ids() == self._start_roots

    async def _roots_present(self) -> bool:
        """Wait until every root is a folder again (after it was removed or unmounted)."""
        warned = False
        while not self._stopping:
            if None not in self._root_ids():
                if warned:
                    self._warn("the watched folder is back; watching again")
                return True
            if not warned:
                self._warn("a watched folder went away; waiting for it to come back")
                warned = True
            await self._sleep_unless_stopped(1.0)
        return False

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        assert self._watch_stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._watch_stop.wait(), seconds)

    async def _watch_loop(self) -> None:
        """Run the watchfiles generator, and keep it running: polling when the OS refuses more
        watches, re-created (with a reconcile scan) when it fails or a root is replaced."""
        backoff = 1.0
        started = False
        self._start_roots = self._root_ids()
        while not self._stopping:
            if started and not await self._roots_present():
                return
            gen: Any = None
            watched = self._root_ids()
            try:
                gen = self._open_watch(self._polling)
                first = asyncio.ensure_future(gen.__anext__())
                # awatch creates the OS watch synchronously on its first step, before it
                # hands the wait to a thread; two loop turns later it is in place (or failed).
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                if first.done() and not first.cancelled() and first.exception() is not None:
                    await first
                self.mode = "polling" if self._polling else "inotify"
                if not started:
                    started = True
                    self.ready.set()
                    self._emit(WatchEvent("watching", message=self.mode))
                else:
                    self._request_rescan(0.0)  # what happened while nobody was listening
                try:
                    changes = await first
                except StopAsyncIteration:
                    return
                while True:
                    await self._on_changes(changes)
                    if self._root_ids() != watched:
                        break  # a root was removed or replaced: its OS watch is gone
                    backoff = 1.0
                    try:
                        changes = await gen.__anext__()
                    except StopAsyncIteration:
                        return
            except Exception as exc:
                errors = _leaf_errors(exc)
                if not self._polling and any(is_watch_limit_error(e) for e in errors):
                    self._polling = True
                    self._warn(
                        f"the OS refused more file watches ({errors[0]}); polling instead "
                        "(slower; raise fs.inotify.max_user_watches / max_user_instances "
                        "to avoid this)"
                    )
                    self._request_rescan(0.0)
                    continue
                if not started:
                    raise
                # e.g. a file name that is not UTF-8 (watchfiles cannot report it): listen
                # again; the reconcile scan finds what was missed, that file included
                self._warn(f"the file watcher failed ({errors[0]}); restarting it")
                await self._sleep_unless_stopped(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                if gen is not None:
                    with contextlib.suppress(BaseException):
                        await gen.aclose()

    async def _on_changes(self, changes: set[tuple[Change, str]]) -> None:
        if not changes:
            return  # a quiet second (yield_on_timeout): only the root check runs
        now = time.monotonic()
        if len(changes) >= _BURST:
            self._request_rescan(_BURST_QUIET)
        for _change, path in changes:
            if self._stopping:
                return
            self._on_path_event(path, now)
        await asyncio.sleep(0)

    def _under_out(self, path: str) -> bool:
        return bool(self._out_prefixes) and (
            path.startswith(self._out_prefixes) or path + "/" in self._out_prefixes
        )

    def _locate(self, path: str) -> tuple[int, str] | None:
        for i, r in enumerate(self.roots):
            b = r.rstrip("/") + "/"
            if path.startswith(b) and len(path) > len(b):
                return i, path[len(b) :]
        return self.cf.locate(path)

    def _on_path_event(self, path: str, now: float) -> None:
        """Cheap checks first (name, folders on the way, output folder), then a stat."""
        name = path.rpartition("/")[2]
        if not name or is_temp_name(name, self._temp_extra) or self._under_out(path):
            return
        loc = self._locate(path)
        if loc is None:
            return
        i, rel = loc
        dir_rel = ""
        for comp in rel.split("/")[:-1]:
            dir_rel = f"{dir_rel}/{comp}" if dir_rel else comp
            if self.cf.excluded_dir(dir_rel, comp, i):
                return
        # the change kind is not trusted: one batch can hold 'deleted' and 'added' for one
        # path in any order (an atomic replace); what the path is now is what counts
        st = self._stat(path)
        if st is None:
            self._observe(path, now, None, event=True)
        elif _stat.S_ISDIR(st.st_mode):  # (a symlink is a folder here only with follow)
            if not self.cf.excluded_dir(rel, name, i):
                self._observe(path, now, st, event=True)
        elif self.cf.match_name(rel, name, i):
            self._observe(path, now, st, event=True)

    def _stat(self, path: str) -> os.stat_result | None:
        try:
            return os.stat(path) if self.cf.follow else os.lstat(path)
        except OSError:
            return None

    def _observe(
        self, path: str, now: float, st: os.stat_result | None, *, event: bool
    ) -> None:
        """Put a path into the settle table, or restart its window if it changed."""
        sig = _sig(st)
        if sig == "other":
            return
        p = self._pending.get(path)
        if p is not None and p.sig == sig:
            if event:
                p.last_event = now
            return
        if sig == "dir":
            due = now
        elif sig is None:
            due = now + self.settle
        else:
            assert st is not None
            age = time.time() - st.st_mtime_ns / 1e9 - _MTIME_SLACK
            due = now + self.settle - min(max(age, 0.0), self.settle / 2)
        if p is None:
            p = self._pending[path] = _Pending(path, sig, due, now if event else None)
            if isinstance(sig, tuple):
                self._emit(WatchEvent("arrived", path))
        else:
            p.sig, p.due = sig, due
            if event:
                p.last_event = now
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, path))
        if self._wake is not None and self._heap[0][2] == path:
            self._wake.set()

    # -- internals: settling and admission ---------------------------------------------------

    async def _settle_loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            now = time.monotonic()
            due: list[_Pending] = []
            heap = self._heap
            while heap and heap[0][0] <= now:
                when, _, path = heapq.heappop(heap)
                p = self._pending.get(path)
                if p is not None and p.due == when:
                    due.append(p)
            if not due:
                self._wake.clear()
                timeout = heap[0][0] - now if heap else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            try:
                await self._check_due(due)
            except Exception as exc:  # the store busy for too long, a disk error: go on
                if self._stopping:
                    return
                self._warn(f"could not queue {len(due)} settled file(s): {exc}; "
                           "they are picked up by the next reconcile scan")
                self._request_rescan(max(self.settle, 5.0))

    async def _check_due(self, due: list[_Pending]) -> None:
        """Stat the paths whose window ended: unchanged files are admitted, changed ones wait
        another window, missing ones are forgotten, folders are walked."""
        paths = [p.path for p in due]
        if len(paths) > _STAT_IN_THREAD:
            stats = await asyncio.to_thread(lambda: [self._stat(x) for x in paths])
        else:
            stats = [self._stat(x) for x in paths]
        now = time.monotonic()
        ready: list[_Ready] = []
        gone: list[str] = []
        folders: list[str] = []
        for p, st in zip(due, stats, strict=True):
            if self._pending.get(p.path) is not p:
                continue
            sig = _sig(st)
            if sig is None or sig == "other":
                del self._pending[p.path]
                gone.append(p.path)
            elif sig == "dir":
                del self._pending[p.path]
                folders.append(p.path)
            elif sig != p.sig:
                self._observe(p.path, now, st, event=False)
            else:
                del self._pending[p.path]
                assert st is not None
                own = self._own.get(p.path)
                ready.append(_Ready(
                    p.path, st.st_size, st.st_mtime_ns, own,
                    self._guard_siblings and self._written_by_a_run(p.path, p.last_event),
                ))
        forget_tasks, self._forget_tasks = self._forget_tasks, []
        if gone or forget_tasks:
            await asyncio.to_thread(self._forget_sync, gone, forget_tasks)
        for folder in folders:
            found = await asyncio.to_thread(self._walk, folder)
            now = time.monotonic()
            for path, st in found:
                self._observe(path, now, st, event=True)
        if ready:
            await self._admit(ready)

    def _forget_sync(self, gone: list[str], tasks: list[tuple[str, int]]) -> None:
        if gone:
            self.state.forget(self.watch_row, gone, subtree=True)
        for path, task_id in tasks:
            self.state.forget_task(self.watch_row, path, task_id)

    def _walk(self, folder: str) -> list[tuple[str, os.stat_result]]:
        """Files under a folder that appeared (moved in, or created before its watch was)."""
        loc = self._locate(folder)
        if loc is None:
            return []
        i, base_rel = loc
        out: list[tuple[str, os.stat_result]] = []
        seen: set[tuple[int, int]] = set()
        stack = [(folder, base_rel)]
        while stack and not self._scan_cancel.is_set():
            d, drel = stack.pop()
            try:
                dst = os.stat(d)
                if (dst.st_dev, dst.st_ino) in seen:
                    continue
                seen.add((dst.st_dev, dst.st_ino))
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                rel = f"{drel}/{e.name}"
                try:
                    if e.is_dir(follow_symlinks=self.cf.follow):
                        if not self.cf.excluded_dir(rel, e.name, i):
                            stack.append((e.path, rel))
                        continue
                    if is_temp_name(e.name, self._temp_extra):
                        continue
                    if self.cf.match_name(rel, e.name, i):
                        st = e.stat(follow_symlinks=self.cf.follow)
                        if _stat.S_ISREG(st.st_mode):
                            out.append((e.path, st))
                except OSError:
                    continue
        return out

    async def _admit(self, ready: list[_Ready]) -> None:
        result = await asyncio.to_thread(self._admit_sync, ready)
        if result.tasks:
            self.engine.submit(result.tasks)
        for ev in result.events:
            self._emit(ev)
        now = time.monotonic()
        for path in result.again:
            self._observe(path, now, self._stat(path), event=False)

    def _digest(self, e: FileEntry) -> bytes | None:
        key = (e.dev, e.ino, e.size, e.mtime_ns)
        cache = self._hash_cache
        d = cache.get(key)
        if d is not None:
            cache.move_to_end(key)
            return d
        d = _hash_file(e.path, e.size, e.mtime_ns)
        if d is not None:
            cache[key] = d
            while len(cache) > _HASH_CACHE:
                cache.popitem(last=False)
        return d

    def _select(self, paths: Sequence[str]) -> dict[str, FileEntry]:
        """The paths a full scan would select, as its FileEntry (the matcher's batch API: folder
        rules and ignore files worked out once per folder per batch)."""
        return self.cf.entries_for(paths, self._stat)

    def _admit_sync(self, ready: list[_Ready]) -> _AdmitResult:
        """Decide, for settled files, which are new content versions; create their tasks.

        Runs on a worker thread, one batch at a time (so the seen table is never raced)."""
        res = _AdmitResult()
        cands: list[tuple[_Ready, FileEntry]] = []
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
        dedupe = self.spec.settings.dedupe
        hashed: list[tuple[_Ready, FileEntry, bytes]] = []
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
            if r.own is not None and r.own == (e.size, e.mtime_ns):
                rows.append(row)
                res.events.append(WatchEvent("output", e.path, message="changed by the action"))
                continue
            if old is not None and old.digest == digest:
                row.kind, row.task_id = old.kind, old.task_id
                rows.append(row)
                res.events.append(WatchEvent("unchanged", e.path, old.task_id))
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
                    dup_of = self._existing_copy(copies.get(digest, ()), e)
            if dup_of is None:
                batch_digests.setdefault((digest, e.size), e.path)
            new.append((e, digest, dup_of))
        if new:
            prio = int(self.spec.settings.priority)
            ids = self.store.add_tasks(self.job_id, [
                NewTask.from_entry(
                    e, priority=prio,
                    state=TaskState.SKIPPED.value if dup else TaskState.QUEUED.value,
                    reason=f"duplicate of {dup}" if dup else None, duplicate_of=dup,
                )
                for e, _, dup in new
            ])
            for task_id, (e, digest, dup) in zip(ids, new, strict=True):
                kind = KIND_DUPLICATE if dup else KIND_TASK
                rows.append(SeenRow(e.path, e.size, e.mtime_ns, e.dev, e.ino, digest, kind,
                                    task_id))
                t = Task(
                    id=task_id, path=e.path, root=e.root, rel=e.rel, size=e.size,
                    mtime_ns=e.mtime_ns, dev=e.dev, ino=e.ino, priority=Priority(prio),
                )
                if dup:
                    t.state, t.reason = TaskState.SKIPPED, f"duplicate of {dup}"
                    res.events.append(WatchEvent("duplicate", e.path, task_id, data={"of": dup}))
                else:
                    res.events.append(WatchEvent("queued", e.path, task_id))
                res.tasks.append(t)
        self.state.record(wid, rows)
        return res

    @staticmethod
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

    # -- internals: reconcile scans ----------------------------------------------------------

    def _request_rescan(self, delay: float) -> None:
        """A reconcile scan ``delay`` seconds after the last request (bursts: after the dust
        settles, so the scan sees the files that made it, not half of them)."""
        self._rescan_after = time.monotonic() + delay
        self._rescan_requested = True
        if self._rescan_now is not None:
            self._rescan_now.set()

    async def _rescan_loop(self) -> None:
        assert self._rescan_now is not None
        await self._reconcile("start")
        next_periodic = None if self.rescan is None else time.monotonic() + self.rescan
        while not self._stopping:
            self._rescan_now.clear()
            now = time.monotonic()
            burst = self._rescan_after if self._rescan_requested else None
            targets = [t for t in (next_periodic, burst) if t is not None]
            target = min(targets) if targets else None
            if target is not None and target <= now:
                reason = "periodic"
                if burst is not None and burst <= now:
                    self._rescan_requested = False
                    reason = "burst"
                await self._reconcile(reason)
                if self.rescan is not None:
                    next_periodic = time.monotonic() + self.rescan
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rescan_now.wait(),
                                       None if target is None else target - now)

    async def _reconcile(self, reason: str) -> None:
        """Scan the roots; every file whose version is not the one remembered goes into the
        settle table. Then forget remembered paths that no longer exist."""
        issues: list[ScanIssue] = []
        try:
            found = await asyncio.to_thread(self._reconcile_sync, issues)
        except Exception as exc:
            if not self._stopping:
                self._warn(f"reconcile scan failed: {exc}")
            return
        if self._stopping:
            return
        now = time.monotonic()
        new = 0
        for path, st in found:
            new += path not in self._pending
            self._observe(path, now, st, event=False)
        for issue in issues[:100]:
            # a root that went away matters every time; other issues once, at start
            if reason == "start" or issue.kind == "missing":
                self._warn(f"{issue.kind}: {issue.message}", issue.path)
        self._emit(WatchEvent("scan", data={"reason": reason, "new": new,
                                             "issues": len(issues)}))

    def _reconcile_sync(self, issues: list[ScanIssue]) -> list[tuple[str, os.stat_result]]:
        out: list[tuple[str, os.stat_result]] = []
        batch: list[FileEntry] = []

        def flush() -> None:
            known = self.state.lookup(self.watch_row, [e.path for e in batch])
            for e in batch:
                k = known.get(e.path)
                if k is not None and (k.size, k.mtime_ns) == (e.size, e.mtime_ns):
                    continue
                if is_temp_name(e.rel.rpartition("/")[2], self._temp_extra):
                    continue
                st = self._stat(e.path)
                if st is not None:
                    out.append((e.path, st))
            batch.clear()

        for entry in scan(self.cf, on_issue=issues.append, cancel=self._scan_cancel):
            batch.append(entry)
            if len(batch) >= 1000:
                flush()
        if batch:
            flush()
        if not self._scan_cancel.is_set() and self._roots_unchanged():
            # (not when a root is missing, replaced or unmounted: its files would all be
            # forgotten, and processed again when it comes back)
            self.state.sweep_missing(self.watch_row)
        return out
