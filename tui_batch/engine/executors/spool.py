"""Spool files: where a command's stdout and stderr go (one pair per worker slot, reused).

Files without a name: ``O_TMPFILE`` in the temp folder, so nothing is left behind whatever
happens to the process, kill -9 included (issue 7, item 7). Where the file system cannot do
that, the files are created in a spool folder named ``tui-batch-spool-<pid>-<random>`` and
unlinked at once; the folder is removed at the end of the run, and a folder whose owner
process is gone (kill -9) is removed by the next run that spools -- only folders of this
user, with that exact name pattern, whose pid is not alive, holding nothing but spool files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from itertools import count

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


def read_tail(fd: int) -> str:
    """The last :data:`TAIL_BYTES` of a spool file, decoded."""
    size = os.fstat(fd).st_size
    if size == 0:
        return ""
    start = max(0, size - TAIL_BYTES)
    return decode_tail(os.pread(fd, size - start, start))


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
    """Creates spool file pairs; knows the fallback folder if one was needed."""

    def __init__(self) -> None:
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

    def close(self) -> None:
        if self.folder is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.folder)
            self.folder = None


class Spool:
    """A pair of nameless files that receive one child's stdout and stderr."""

    __slots__ = ("err", "out", "sid", "used")
    _ids = count(1)

    def __init__(self, folder: SpoolFolder) -> None:
        self.out = folder.open()
        try:
            self.err = folder.open()
        except BaseException:
            os.close(self.out)
            raise
        self.sid = next(self._ids)  # slot id in the fork servers
        self.used = False  # something was written since the last reset

    def tails(self) -> tuple[str, str]:
        out, err = read_tail(self.out), read_tail(self.err)
        self.used = bool(out or err)
        return out, err

    def reset(self) -> None:
        # most commands print nothing: skip two syscalls per task when nothing was written
        if self.used:
            os.ftruncate(self.out, 0)
            os.ftruncate(self.err, 0)
            self.used = False

    def close(self) -> None:
        os.close(self.out)
        os.close(self.err)
