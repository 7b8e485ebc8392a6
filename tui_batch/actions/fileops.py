"""File operations as actions: ``copy``, ``move`` and ``hardlink`` mirror a tree under ``--out``.

They live together because they share what is hard about them: what to do when the target
already exists, and how to be run twice on a file (a task that was running at a kill runs
again on ``resume``) without doing harm.

* A target that already holds the source (same size, modification time and bytes; for
  ``hardlink``, the same inode) is the result of an earlier attempt: the task is done, nothing
  is written (``move`` only removes the source).
* Otherwise the option ``conflict`` decides: ``skip`` (the default: never lose data) ends the
  task *skipped* with the reason ``target exists: PATH``; ``overwrite`` replaces the target
  atomically; ``rename`` writes ``name (1).ext``, ``name (2).ext``, ... (the first free name,
  ``.tar.gz`` kept whole). A new name is taken with ``link(2)``, which never replaces a file,
  so two writers racing for one name never overwrite each other.
* Data is written to a temporary name beside the target (``.name.tbtmp-TAG.ext``, removed by
  the next run if a kill leaves it), with the source's mode and modification time, and only
  then given its name.

``move`` never loses a file. On one file system it is a rename (a link then an unlink when the
target must not be replaced: a kill in between leaves two names of one whole file). Across
file systems: copy to the temporary name, ``fsync``, give it its name, ``fsync`` the folder,
then unlink the source and ``fsync`` its folder. A ``kill -9`` at any moment leaves every file
at its source or its target (or both), whole; ``resume`` finishes it: a target equal to the
source means "unlink the source", a source gone with the target of the scanned size and time
in place means "already moved". Folders left empty at the source stay (per-file moves).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator

from ..errors import InputError
from .base import ActionError, TaskContext, TaskSkipped
from .output import (
    OutputError,
    _fsync_dir,
    _inside,
    _prepare_target,
    _remove,
    _split_ext,
    check_output_path,
    display_path,
    temp_output_path,
)

__all__ = ["CONFLICTS", "FILEOPS_OPTIONS", "check_conflict", "copy_file", "hardlink_file",
           "move_file"]

CONFLICTS = ("skip", "overwrite", "rename")
FILEOPS_OPTIONS = {
    "conflict": "when the target exists and differs: skip (default; the task is skipped), "
                "overwrite, or rename (writes 'name (1).ext')",
}
_CHUNK = 1 << 20
_MAX_RENAMES = 10_000
_NO_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS)
"""``link(2)`` refused for reasons other than an existing name (a file system without hard
links, protected_hardlinks): place the file with a checked rename instead."""

Same = Callable[[str, os.stat_result], bool]
"""Does the existing target at ``path`` (its lstat) already hold the source?"""


# -- options ---------------------------------------------------------------------------------


def _conflict(options: dict[str, str]) -> str:
    value = options.get("conflict", "skip").strip().lower()
    if value not in CONFLICTS:
        raise InputError("--opt", f"conflict must be one of {', '.join(CONFLICTS)}, got "
                                  f"{options.get('conflict')!r}")
    return value


def check_conflict(options: dict[str, str]) -> None:
    """Refuse a bad ``--opt conflict=...`` before the job starts."""
    _conflict(options)


# -- comparing and naming --------------------------------------------------------------------


def _same_bytes(a: str, b: str) -> bool:
    with open(a, "rb", buffering=0) as fa, open(b, "rb", buffering=0) as fb:
        while True:
            x = fa.read(_CHUNK)
            if x != fb.read(_CHUNK):
                return False
            if not x:
                return True


def _same_copy(src: str, src_st: os.stat_result) -> Same:
    """A target that is a whole copy of ``src``: a regular file with its size, mtime, bytes."""

    def same(path: str, st: os.stat_result) -> bool:
        if not stat.S_ISREG(st.st_mode) or st.st_size != src_st.st_size:
            return False
        if st.st_mtime_ns != src_st.st_mtime_ns:
            return False
        return (st.st_dev, st.st_ino) == (src_st.st_dev, src_st.st_ino) or _same_bytes(src, path)

    return same


def _renamed(final: str, n: int) -> str:
    folder, name = os.path.split(final)
    stem, ext = _split_ext(name)
    return os.path.join(folder, f"{stem} ({n}){ext}")


def _candidates(final: str, conflict: str) -> Iterator[str]:
    yield final
    if conflict == "rename":
        for n in range(1, _MAX_RENAMES + 1):
            yield _renamed(final, n)


def _free_target(final: str, conflict: str, same: Same) -> str | None:
    """Where to write: ``final``, or its first free ``name (N).ext`` with ``rename``; ``None``
    when a target already holds the source (an earlier attempt's work: nothing to do).
    Raises :class:`TaskSkipped` for ``skip``."""
    for cand in _candidates(final, conflict):
        try:
            st = os.lstat(cand)
        except FileNotFoundError:
            return cand
        if same(cand, st):
            return None
        if conflict == "overwrite":
            if stat.S_ISDIR(st.st_mode):
                raise ActionError(f"cannot overwrite {display_path(cand)}: it is a folder")
            return cand
        if conflict == "skip":
            raise TaskSkipped(f"target exists: {display_path(cand)}")
    raise ActionError(f"no free name left beside {display_path(final)}")


def _out(ctx: TaskContext, action: str) -> tuple[str, str]:
    if ctx.out_path is None or ctx.out_dir is None:
        raise OutputError(f"{action}: no output path (give --out DIR)")
    return ctx.out_path, ctx.out_dir


def _second_name(final: str, out_dir: str, src: str, src_st: os.stat_result) -> bool:
    """Is ``final`` another name (hard link) of the source, inside ``out_dir``? Then an earlier
    ``hardlink`` or same-file-system ``move`` got that far."""
    try:
        st = os.lstat(final)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (src_st.st_dev, src_st.st_ino):
        return False
    real = os.path.realpath(final)
    return real != os.path.realpath(src) and _inside(real, os.path.realpath(out_dir)) is not None


# -- placing a file under its name -----------------------------------------------------------


def _rename_noreplace(src: str, dst: str) -> bool:
    """Give ``src`` the name ``dst`` unless ``dst`` exists (then False, nothing changed)."""
    try:
        os.link(src, dst)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.path.lexists(dst):
            return False
        os.rename(src, dst)  # no hard links here: a checked rename (a narrow race, no better)
        return True
    os.unlink(src)
    return True


def _place(src: str, target: str, final: str, conflict: str, same: Same) -> str | None:
    """Move ``src`` (a whole file: the temporary copy, or the source on one file system) to
    ``target`` by the policy; returns where it went, ``None`` if a racing writer put the same
    file there first (``src`` is then left as it is)."""
    while True:
        if conflict == "overwrite":
            os.replace(src, target)
            return target
        if _rename_noreplace(src, target):
            return target
        found = _free_target(final, conflict, same)  # someone took the name meanwhile
        if found is None:
            return None
        target = found


def _copy_data(src_fd: int, dst_fd: int) -> None:
    """All of ``src_fd`` into ``dst_fd``: ``copy_file_range`` (in the kernel; a reflink where
    the file system can), else plain reads and writes from where it stopped."""
    try:
        while os.copy_file_range(src_fd, dst_fd, 1 << 30):
            pass
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP,
                             errno.EBADF, errno.EPERM):
            raise
    while True:
        data = os.read(src_fd, _CHUNK)
        if not data:
            return
        view = memoryview(data)
        while view:
            view = view[os.write(dst_fd, view):]


def _copy_to_temp(src: str, src_st: os.stat_result, final: str, durable: bool) -> str:
    """A whole copy of ``src`` beside ``final`` under a temporary name, with its mode and
    mtime (and owner, as root); ``durable``: on disk (fsync) before it is given a name."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for _ in range(100):
        tmp = temp_output_path(final)
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
        break
    else:
        raise OutputError(f"cannot create a temporary file beside {display_path(final)}")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb", buffering=0) as inp:
            _copy_data(inp.fileno(), out.fileno())
            if os.geteuid() == 0:
                with contextlib.suppress(OSError):
                    os.fchown(out.fileno(), src_st.st_uid, src_st.st_gid)
            os.fchmod(out.fileno(), stat.S_IMODE(src_st.st_mode))
            os.utime(out.fileno(), ns=(src_st.st_atime_ns, src_st.st_mtime_ns))
            if durable:
                os.fsync(out.fileno())
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _deliver_copy(src: str, src_st: os.stat_result, target: str, final: str, conflict: str,
                  durable: bool) -> str | None:
    tmp = _copy_to_temp(src, src_st, final, durable)
    try:
        if durable:
            now = os.stat(src)
            if (now.st_size, now.st_mtime_ns, now.st_ino) != (
                    src_st.st_size, src_st.st_mtime_ns, src_st.st_ino):
                raise ActionError("the file changed while it was copied; it was left in place")
        placed = _place(tmp, target, final, conflict, _same_copy(src, src_st))
    finally:
        _remove(tmp)  # gone already when it was renamed; a second name when it was linked
    if durable:
        _fsync_dir(os.path.dirname(target))
    return placed


# -- the actions -----------------------------------------------------------------------------


def copy_file(ctx: TaskContext) -> str | None:
    """Copy the file into the output tree, keeping its mode and modification time."""
    final, out_dir = _out(ctx, "copy")
    conflict = _conflict(ctx.options)
    check_output_path(final, out_dir, ctx.path)
    src_st = os.stat(ctx.path)
    target = _free_target(final, conflict, _same_copy(ctx.path, src_st))
    if target is not None:
        _prepare_target(final)
        _deliver_copy(ctx.path, src_st, target, final, conflict, durable=False)
    return None


def _already_moved(ctx: TaskContext, final: str, conflict: str) -> bool:
    """The source is gone: is the file at its target, as scanned (an earlier attempt moved it
    and was killed before that was recorded)?"""
    if not ctx.mtime_ns:
        return False
    for cand in _candidates(final, conflict):
        try:
            st = os.lstat(cand)
        except FileNotFoundError:
            return False
        if stat.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns) == (ctx.size, ctx.mtime_ns):
            return True
    return False


def _unlink_source(path: str) -> None:
    """The target holds the file, on disk: the source goes (its folder synced, so a power cut
    cannot bring back a source whose move was reported done)."""
    os.unlink(path)
    _fsync_dir(os.path.dirname(path))


def move_file(ctx: TaskContext) -> str | None:
    """Move the file into the output tree, keeping its mode and mtime; never loses it.

    A rename on one file system; else copy, fsync, rename into place, then unlink."""
    final, out_dir = _out(ctx, "move")
    conflict = _conflict(ctx.options)
    src = ctx.path
    try:
        src_st = os.stat(src)
    except FileNotFoundError:
        if _already_moved(ctx, final, conflict):
            return None
        raise TaskSkipped("file vanished since the scan") from None
    if _second_name(final, out_dir, src, src_st):
        _unlink_source(src)  # linked into place before a kill: finish the move
        return None
    check_output_path(final, out_dir, src)
    same = _same_copy(src, src_st)
    target = _free_target(final, conflict, same)
    if target is None:
        _unlink_source(src)  # an earlier attempt copied it whole: finish the move
        return None
    _prepare_target(final)
    if os.stat(os.path.dirname(target)).st_dev == src_st.st_dev:
        try:
            placed = _place(src, target, final, conflict, same)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # a bind mount of one file system: copy instead
                raise
        else:
            # no fsync: a rename (or a link, then an unlink) leaves the one inode whole under
            # one of its names whatever stops it, a power cut included; only names change
            if placed is None:
                os.unlink(src)  # a racing writer put this very file there
            return None
    _deliver_copy(src, src_st, target, final, conflict, durable=True)
    _unlink_source(src)
    return None


def hardlink_file(ctx: TaskContext) -> str | None:
    """Hard-link the file into the output tree (one file system; no data is copied)."""
    final, out_dir = _out(ctx, "hardlink")
    conflict = _conflict(ctx.options)
    src = ctx.path
    src_st = os.stat(src)
    if _second_name(final, out_dir, src, src_st):
        return None  # linked by an earlier attempt
    check_output_path(final, out_dir, src)

    def same(path: str, st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino) == (src_st.st_dev, src_st.st_ino)

    target = _free_target(final, conflict, same)
    if target is None:
        return None
    _prepare_target(final)
    tmp = temp_output_path(final)
    try:
        os.link(src, tmp)  # a second name beside the target, then placed like a copy
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise ActionError(
                f"cannot hardlink across file systems: {display_path(src)} and "
                f"{display_path(os.path.dirname(target))}") from None
        raise ActionError(f"cannot hardlink {display_path(src)}: {exc.strerror}") from None
    try:
        _place(tmp, target, final, conflict, same)
    finally:
        _remove(tmp)
    return None
