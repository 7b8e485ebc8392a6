"""Spool files: where a command's stdout and stderr go (one pair per worker slot, reused).

Files without a name: ``O_TMPFILE`` in the temp folder, so nothing is left behind whatever
happens to the process, kill -9 included (issue 7, item 7). Where the file system cannot do
that, the files are created in a spool folder named ``tui-batch-spool-<pid>-<random>`` and
unlinked at once; the folder is removed at the end of the run, and a folder whose owner
process is gone (kill -9) is removed by the next run that spools -- only folders of this
user, with that exact name pattern, whose pid is not alive, holding nothing but spool files.

When the engine is given a job's log folder (:mod:`tui_batch.model.logfiles`), the spool files
are that job's named, append-only slot files instead: a command writes its output straight
into the job's full log, with no copy, and an attempt's output is the byte range it added
(:class:`~tui_batch.model.logfiles.LogRef`), cut at the cap when the attempt ends.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import tempfile
from itertools import count

from ...model.logfiles import DEFAULT_MAX_OUTPUT, LIVE, LogRef, live_path, slot_paths

log = logging.getLogger(__name__)

FOLDER_PREFIX = "tui-batch-spool-"
_FOLDER_RE = re.compile(r"tui-batch-spool-(\d+)-[A-Za-z0-9_]+")
_FILE_RE = re.compile(r"(out|err)-\d+")
_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT)
_swept: set[str] = set()  # temp folders already swept by this process

TAIL_BYTES = 4096
"""How much of each output stream is kept per attempt (the log pane and the store show it)."""


def decode_tail(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    if len(data) >= TAIL_BYTES:
        # cut at a line start so the tail does not begin mid-line
        nl = text.find("\n")
        if 0 <= nl < len(text) - 1:
            text = text[nl + 1 :]
    return text


def read_tail(fd: int, start: int = 0, end: int | None = None) -> str:
    """The last :data:`TAIL_BYTES` of a spool file's bytes ``[start, end)``, decoded."""
    size = os.fstat(fd).st_size if end is None else end
    if size <= start:
        return ""
    first = max(start, size - TAIL_BYTES)
    return decode_tail(os.pread(fd, size - first, first))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a pid we cannot even ask about)
    return True


def sweep_stale(folder: str) -> list[str]:
    """Remove spool folders left in ``folder`` by dead processes of this user; return them."""
    removed: list[str] = []
    uid = os.getuid()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _FOLDER_RE.fullmatch(entry.name)
        if m is None:
            continue
        pid = int(m.group(1))
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            with os.scandir(entry.path) as inner:
                names = [e.name for e in inner]
            if any(_FILE_RE.fullmatch(n) is None for n in names):
                continue  # something that is not ours: leave the folder alone
            for n in names:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(entry.path, n))
            os.rmdir(entry.path)
        except OSError:
            continue
        removed.append(entry.path)
    return removed


class SpoolFolder:
    """Creates spool file pairs; knows the fallback folder if one was needed, or the job's log
    folder when output is kept (``log_dir``), with its slot numbers and live records."""

    def __init__(self, log_dir: str | None = None, max_output: int = DEFAULT_MAX_OUTPUT) -> None:
        self.log_dir = log_dir
        """The job's log folder (None: nameless spool files, only the tails are kept)."""
        self.max_output = max_output
        """Bytes kept per stream per attempt in the log files."""
        self._open: set[int] = set()  # slot numbers whose files a spool holds now
        self._live: int | None = None  # the live-records file
        if log_dir is not None:
            try:
                os.makedirs(log_dir, mode=0o700, exist_ok=True)
                self._live = os.open(live_path(log_dir),
                                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            except OSError as exc:  # a read-only data folder: run anyway, keep only tails
                log.warning("tui-batch: cannot keep task output in %s (%s); keeping only the "
                            "last lines of each task's output", log_dir, exc.strerror)
                self.log_dir = None
        self.tmp = tempfile.gettempdir()
        self.folder: str | None = None  # the fallback folder, once created
        self._tmpfile = True  # O_TMPFILE works here (until proven otherwise)
        self._ids = count(1)
        if self.tmp not in _swept:
            _swept.add(self.tmp)
            sweep_stale(self.tmp)

    def open(self) -> int:
        """One new spool file (read/write, append, close-on-exec). Raises OSError (EMFILE...)."""
        if self._tmpfile:
            try:
                return os.open(self.tmp, _FLAGS | os.O_TMPFILE, 0o600)
            except OSError as exc:
                if exc.errno not in _NO_TMPFILE:
                    raise
                self._tmpfile = False
        for _ in range(2):
            if self.folder is None:
                self.folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
            path = os.path.join(self.folder, f"out-{next(self._ids)}")
            try:
                fd = os.open(path, _FLAGS | os.O_CREAT | os.O_EXCL, 0o600)
            except FileNotFoundError:  # the folder was removed under us: make a new one
                self.folder = None
                continue
            os.unlink(path)
            return fd
        raise FileNotFoundError(errno.ENOENT, "spool folder keeps disappearing", self.tmp)

    def open_slot(self, wanted: int = 0) -> tuple[int, int, int]:
        """A free slot of the log folder: its number and its out and err files (append-only;
        an attempt's output starts at their current end). ``wanted``: the engine's worker
        slot of the attempt (``{%}``), so slot-K holds what the commands of slot K printed;
        taken when free, else (or when 0) the lowest free one. Raises OSError."""
        assert self.log_dir is not None
        slot = wanted
        if slot <= 0 or slot in self._open:
            slot = 1
            while slot in self._open:
                slot += 1
        self._open.add(slot)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        out_path, err_path = slot_paths(self.log_dir, slot)
        try:
            out = os.open(out_path, flags, 0o600)
            try:
                err = os.open(err_path, flags, 0o600)
            except BaseException:
                os.close(out)
                raise
        except BaseException:
            self._open.discard(slot)
            raise
        return slot, out, err

    def free_slot(self, slot: int) -> None:
        self._open.discard(slot)

    def mark_live(self, slot: int, task_id: int, attempt: int, out_off: int,
                  err_off: int) -> None:
        """Say in the slot's live record which attempt runs there now and where its output
        starts (one ``pwrite``: ``tui-batch log -f`` in another process reads it)."""
        if self._live is not None:
            with contextlib.suppress(OSError):
                os.pwrite(self._live, LIVE.pack(os.getpid(), task_id, attempt, out_off, err_off),
                          (slot - 1) * LIVE.size)

    def close(self) -> None:
        if self.folder is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.folder)
            self.folder = None
        if self._live is not None:
            with contextlib.suppress(OSError):
                os.close(self._live)
            self._live = None


class Spool:
    """A pair of files that receive one child's stdout and stderr: nameless ones reused
    (truncated between attempts), or a slot's log files of the job (appended to)."""

    __slots__ = ("err", "err_start", "folder", "out", "out_start", "sid", "slot", "used")
    _ids = count(1)

    def __init__(self, folder: SpoolFolder, slot: int = 0) -> None:
        self.folder = folder
        self.slot = 0  # the log slot (0: nameless files)
        if folder.log_dir is not None:
            self.slot, self.out, self.err = folder.open_slot(slot)
            self.out_start = os.fstat(self.out).st_size
            self.err_start = os.fstat(self.err).st_size
        else:
            self.out = folder.open()
            try:
                self.err = folder.open()
            except BaseException:
                os.close(self.out)
                raise
            self.out_start = self.err_start = 0
        self.sid = next(self._ids)  # slot id in the fork servers
        self.used = False  # something was written since the last reset

    def begin(self, task_id: int, attempt: int) -> None:
        """An attempt starts writing here (logged slots publish it for followers)."""
        if self.slot:
            self.folder.mark_live(self.slot, task_id, attempt, self.out_start, self.err_start)

    def live_tails(self) -> tuple[str, str]:
        """The tails of what the running attempt wrote so far."""
        return read_tail(self.out, self.out_start), read_tail(self.err, self.err_start)

    def tails(self) -> tuple[str, str]:
        """The attempt is over: its tails (nameless files), see :meth:`end`."""
        out, err, _ = self.end()
        return out, err

    def end(self) -> tuple[str, str, LogRef | None]:
        """The attempt is over: the tails of its stdout and stderr and, for a logged slot,
        where its output is kept (None when it wrote nothing). Output beyond the cap is cut
        off the slot's files here, after the tails were read."""
        if not self.slot:
            out, err = read_tail(self.out), read_tail(self.err)
            self.used = bool(out or err)
            return out, err, None
        o0, e0 = self.out_start, self.err_start
        o1, e1 = os.fstat(self.out).st_size, os.fstat(self.err).st_size
        if o1 == o0 and e1 == e0:
            return "", "", None  # most commands print nothing: two fstat and done
        out, err = read_tail(self.out, o0, o1), read_tail(self.err, e0, e1)
        cap = self.folder.max_output
        out_len, err_len = min(o1 - o0, cap), min(e1 - e0, cap)
        if out_len < o1 - o0:
            os.ftruncate(self.out, o0 + out_len)
        if err_len < e1 - e0:
            os.ftruncate(self.err, e0 + err_len)
        self.out_start, self.err_start = o0 + out_len, e0 + err_len
        return out, err, LogRef(self.slot, o0, out_len, o1 - o0, e0, err_len, e1 - e0)

    def reset(self) -> None:
        # most commands print nothing: skip two syscalls per task when nothing was written
        if self.used and not self.slot:
            os.ftruncate(self.out, 0)
            os.ftruncate(self.err, 0)
        self.used = False

    def close(self) -> None:
        os.close(self.out)
        os.close(self.err)
        if self.slot:
            self.folder.free_slot(self.slot)
            self.slot = 0
