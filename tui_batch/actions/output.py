"""Where outputs go, and how they are written so that a crash never leaves a half file.

Guarantees (DESIGN.md, "Actions"): an output mirrors the input tree under ``--out``; it is never
written over its input, never outside the output folder, never through a symlink (a symlink
planted inside the output folder could otherwise redirect a write anywhere); and it appears
atomically (temporary file in the same folder + ``os.replace``), so readers and a resumed job
see either the old file or the complete new one.

Paths are ``str`` possibly carrying surrogate escapes (non-UTF-8 names): they are handed to the
OS as they are and only turned into text for messages with :func:`display_path`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import Iterator
from typing import IO, Any

from ..errors import TuiBatchError

__all__ = [
    "OutputError",
    "atomic_path",
    "atomic_write",
    "check_output_path",
    "display_path",
    "mirror_path",
    "temp_output_path",
    "temp_owner",
]

TEMP_MARKER = ".tbtmp-"
"""Part of every temporary output name, so leftovers (after kill -9) are recognisable."""

_NAME_MAX = 255  # bytes in one file name on every file system we care about
_COMPOUND_EXTS = (".tar",)


class OutputError(TuiBatchError):
    """An output path that must not be written (outside ``--out``, the input itself, a symlink).

    One positional message only, so it pickles back from a process-pool worker.
    """


def display_path(path: str) -> str:
    """Text safe to print or store as TEXT: undecodable bytes become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def mirror_path(out_dir: str, root: str, rel: str, multi_root: bool) -> str:
    """The mirrored output path of an input: ``out_dir/rel``.

    With several roots two inputs could share a ``rel``, so each root gets its own folder named
    after it: ``out_dir/<basename of root>/rel``. A ``rel`` that is absolute or climbs out with
    ``..`` is refused, so a corrupt store row can never aim an output elsewhere.
    """
    if not rel or os.path.isabs(rel) or ".." in rel.split(os.sep):
        raise OutputError(f"cannot mirror {display_path(rel)!r}: not a path inside its root")
    if multi_root:
        base = os.path.basename(os.path.normpath(os.path.abspath(root))) or "root"
        return os.path.join(out_dir, base, rel)
    return os.path.join(out_dir, rel)


def _inside(path: str, folder: str) -> str | None:
    """``path`` relative to ``folder`` when strictly inside it (both absolute, normalised)."""
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    if path.startswith(prefix) and len(path) > len(prefix):
        return path[len(prefix) :]
    return None


def check_output_path(out_path: str, out_dir: str, input_path: str) -> None:
    """Refuse an output that would escape ``out_dir``, overwrite the input, or go via a symlink.

    Called by every action right before it writes (and by templates using ``{out}`` before the
    command starts), because the tree can change between the preview and the run.
    """
    od = os.path.abspath(out_dir)
    op = os.path.abspath(out_path)
    rel = _inside(op, od)
    base = od
    if rel is None:
        # the caller may have resolved one of the two paths and not the other
        od_real = os.path.realpath(od)
        candidate = os.path.join(os.path.realpath(os.path.dirname(op)), os.path.basename(op))
        rel = _inside(candidate, od_real)
        if rel is None:
            raise OutputError(
                f"output {display_path(op)} is outside the output folder {display_path(od)}"
            )
        base = od_real
    cur = base
    for part in rel.split(os.sep):
        cur = os.path.join(cur, part)
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            break  # nothing below exists yet: it will be created as plain folders
        except NotADirectoryError:
            raise OutputError(f"cannot write {display_path(op)}: a file is in the way") from None
        if stat.S_ISLNK(st.st_mode):
            raise OutputError(f"refusing to write through the symlink {display_path(cur)}")
    op_real = os.path.realpath(op)
    if _inside(op_real, os.path.realpath(od)) is None:
        raise OutputError(
            f"output {display_path(op)} resolves outside the output folder {display_path(od)}"
        )
    in_real = os.path.realpath(input_path)
    same = op_real == in_real
    if not same:
        with contextlib.suppress(OSError):
            same = os.path.samefile(op, input_path)
    if same:
        raise OutputError(f"output {display_path(op)} would overwrite its input")


def _split_ext(name: str) -> tuple[str, str]:
    """Name and extension, keeping ``.tar.gz`` whole so tools that infer formats still do."""
    stem, ext = os.path.splitext(name)
    if ext and stem.lower().endswith(_COMPOUND_EXTS):
        ext = stem[-4:] + ext
        stem = stem[:-4]
    if len(ext) > 32:  # not an extension anyone infers a format from
        return name, ""
    return stem, ext


_TAG_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_TAG_LEN = 10  # 50 bits: the writer's pid (22 bits, Linux's PID_MAX_LIMIT) + 28 random bits
_PID_BITS = 22
_RAND_BITS = _TAG_LEN * 5 - _PID_BITS
_TAG_RE = re.compile(re.escape(TEMP_MARKER) + f"([{_TAG_ALPHABET}]{{{_TAG_LEN}}})")


def _make_tag(pid: int) -> str:
    """10 base-32 characters holding ``pid`` and 28 random bits (0 = unknown writer)."""
    if not 0 < pid < 1 << _PID_BITS:
        pid = 0
    value = pid << _RAND_BITS | int.from_bytes(os.urandom(4), "big") >> (32 - _RAND_BITS)
    chars = []
    for _ in range(_TAG_LEN):
        chars.append(_TAG_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _tag_pid(tag: str) -> int:
    value = 0
    for c in tag:
        value = value << 5 | _TAG_ALPHABET.index(c)
    return value >> _RAND_BITS


def _temp_name(name: str, tag: str) -> str:
    """The temporary name of the final base name ``name`` with this tag (deterministic)."""
    stem, ext = _split_ext(name)
    tmp = f".{stem}{TEMP_MARKER}{tag}{ext}"
    over = len(os.fsencode(tmp)) - _NAME_MAX
    while over > 0 and stem:
        stem = stem[: max(0, len(stem) - over)]
        tmp = f".{stem}{TEMP_MARKER}{tag}{ext}"
        over = len(os.fsencode(tmp)) - _NAME_MAX
    return tmp


def temp_output_path(final_path: str, *, pid: int | None = None) -> str:
    """A fresh temporary name beside ``final_path``: ``.name.tbtmp-<tag>.ext``.

    Same folder, so ``os.replace`` is an atomic rename on one file system; same extension, so a
    command that picks its output format from the name (ffmpeg, convert, tar -a) still works;
    hidden, so watchers and globs ignore it; random, so concurrent writers never share one. The
    tag also records the writing process (``pid``, default this one): after a kill -9, the next
    run of a job recognises a leftover of one of its outputs, exactly, and leaves alone one that
    a live process is still writing (:func:`temp_owner`, ``actions/leftovers.py``).
    """
    folder, name = os.path.split(final_path)
    return os.path.join(folder, _temp_name(name, _make_tag(os.getpid() if pid is None else pid)))


def temp_owner(tmp_name: str, final_name: str) -> int | None:
    """The pid that created ``tmp_name`` as a temporary of the output ``final_name`` (both base
    names), 0 if that process is unknown, or ``None`` when ``tmp_name`` is not exactly such a
    temporary name (a user's file that merely contains the marker)."""
    if not tmp_name.startswith("."):
        return None
    for m in _TAG_RE.finditer(tmp_name):
        tag = m.group(1)
        if _temp_name(final_name, tag) == tmp_name:
            return _tag_pid(tag)
    return None


def temp_final_name(tmp_name: str) -> str | None:
    """The output base name ``tmp_name`` is the temporary of, when the name was not shortened
    to fit NAME_MAX (then ``None``: compare with :func:`temp_owner` against candidates)."""
    if not tmp_name.startswith("."):
        return None
    for m in _TAG_RE.finditer(tmp_name):
        final = tmp_name[1 : m.start()] + tmp_name[m.end() :]
        if _temp_name(final, m.group(1)) == tmp_name:
            return final
    return None


def _prepare_target(final_path: str) -> None:
    if os.path.islink(final_path):
        raise OutputError(f"refusing to replace the symlink {display_path(final_path)}")
    parent = os.path.dirname(final_path)
    if parent:
        os.makedirs(parent, exist_ok=True)


def _create_temp(final_path: str) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for _ in range(100):
        tmp = temp_output_path(final_path)
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise OutputError(f"cannot create a temporary file beside {display_path(final_path)}")


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def _fsync_dir(folder: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(final_path: str, *, fsync: bool = False) -> Iterator[str]:
    """Yield the path of an empty temporary file that becomes ``final_path`` on success.

    For writers that want a path rather than a file object (``shutil.copyfile``, libraries).
    On an exception the temporary file is removed and ``final_path`` is left untouched.
    """
    _prepare_target(final_path)
    tmp, fd = _create_temp(final_path)
    os.close(fd)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, final_path)
    except BaseException:
        _remove(tmp)
        raise
    if fsync:
        _fsync_dir(os.path.dirname(final_path))


@contextlib.contextmanager
def atomic_write(
    final_path: str, mode: str = "wb", *, fsync: bool = False, encoding: str = "utf-8"
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``final_path`` when the block succeeds.

    Parent folders are created; a symlink at ``final_path`` is refused (``OutputError``); on an
    exception the temporary file is removed, so no partial output is ever visible. ``fsync``
    trades speed for durability across a power cut.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', not {mode!r}")
    _prepare_target(final_path)
    tmp, fd = _create_temp(final_path)
    try:
        if mode == "wb":
            f: IO[Any] = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding, errors="surrogateescape")
    except BaseException:
        os.close(fd)
        _remove(tmp)
        raise
    try:
        with f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, final_path)
    except BaseException:
        _remove(tmp)
        raise
    if fsync:
        _fsync_dir(os.path.dirname(final_path))


def remove_temp(path: str) -> None:
    """Remove a temporary output (file or folder) if it is there; used after a failed task."""
    _remove(path)
