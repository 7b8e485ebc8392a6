"""The ``compress`` and ``decompress`` actions: gzip and zstd, streamed, byte-exact.

Why a module of its own: these are the actions people otherwise script with ``gzip -k`` and
``zstd``, so they keep those tools' promises: the input is removed (``keep=false``) only after
its output is whole, flushed to disk and renamed into place, and only if the input did not
change meanwhile; outputs keep the input's mode and modification time; a file is streamed in
1 MiB chunks, never held whole in memory. Outputs go to the mirrored path under ``--out``, or
beside the input with ``in_place=true``, where an existing file is never overwritten (the
output is hard-linked into place, which fails if the name is taken, even by a racing writer).

Decompressing trusts the content over the name: the format comes from the magic bytes, and a
file that is neither gzip nor zstd data, or is cut short, fails its task. Every gzip member
and zstd frame of a file is decompressed (``cat a.gz b.gz`` is one valid file).
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable

from ..errors import InputError
from ..model import ActionSpec, EngineSettings, ExecKind
from .base import ActionError, TaskContext
from .checksum import parse_bool
from .codecs import Filler, gunzip, gzip_filler, sniff, unzstd, zstd_filler
from .jobhooks import JobInfo
from .leftovers import remove_leftovers
from .output import atomic_path, check_output_path, display_path, remove_temp, temp_output_path
from .python import PythonAction

__all__ = ["CompressAction", "compress", "decompress", "make_compress", "make_decompress"]

FORMATS = {"gzip": (".gz", 1, 9, 6), "zstd": (".zst", 1, 22, 3)}
"""format -> (suffix, lowest level, highest level, default level)."""
_SUFFIXES = {".gz": ".", ".zst": ".", ".zstd": ".", ".tgz": ".tar", ".tzst": ".tar"}
"""Compressed suffixes decompress strips (``.`` nothing in its place; ``.tgz`` -> ``.tar``)."""


# -- options -------------------------------------------------------------------------------


def parse_format(options: dict[str, str]) -> str:
    raw = options.get("format", "gzip")
    value = raw.strip().lower()
    value = {"gz": "gzip", "zst": "zstd"}.get(value, value)
    if value not in FORMATS:
        raise InputError("--opt", f"format must be gzip or zstd, got {raw!r}")
    return value


def parse_level(options: dict[str, str], fmt: str) -> int:
    _, lo, hi, default = FORMATS[fmt]
    raw = options.get("level")
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise InputError("--opt", f"level for {fmt} must be a whole number {lo}..{hi}, "
                                  f"got {raw!r}")
    return value


def _check_compress(options: dict[str, str]) -> None:
    parse_level(options, parse_format(options))
    parse_bool(options, "keep", True)
    parse_bool(options, "in_place", False)


def _check_gzip(options: dict[str, str]) -> None:
    parse_level(options, "gzip")


def _check_decompress(options: dict[str, str]) -> None:
    parse_bool(options, "keep", True)
    parse_bool(options, "in_place", False)


# -- placing the output --------------------------------------------------------------------


def _fsync_dir(folder: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _finish_tmp(tmp: str, st: os.stat_result) -> None:
    os.chmod(tmp, st.st_mode & 0o7777)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))


def _exists_error(final: str) -> ActionError:
    return ActionError(f"{display_path(final)} already exists: not overwriting it")


def _write_beside(src_path: str, final: str, fill: Filler, st: os.stat_result,
                  durable: bool) -> None:
    """In place: write a temporary beside, then link it to ``final``, which fails if the name
    is taken (a rename would replace it). File systems without hard links get a rename after
    a last check."""
    if os.path.lexists(final):
        raise _exists_error(final)
    tmp = temp_output_path(final)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, open(src_path, "rb") as src:
            fill(src, out)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        _finish_tmp(tmp, st)
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise _exists_error(final) from None
        except OSError:
            if os.path.lexists(final):
                raise _exists_error(final) from None
            os.rename(tmp, final)
    finally:
        remove_temp(tmp)
    if durable:
        _fsync_dir(os.path.dirname(final))


def _write_out(ctx: TaskContext, final: str, fill: Filler, st: os.stat_result,
               durable: bool) -> None:
    assert ctx.out_dir is not None
    check_output_path(final, ctx.out_dir, ctx.path)
    with atomic_path(final, fsync=durable) as tmp:
        with open(tmp, "wb") as out, open(ctx.path, "rb") as src:
            fill(src, out)
        _finish_tmp(tmp, st)


def _run(ctx: TaskContext, what: str, final_for: Callable[[str], str],
         fill_for: Callable[[os.stat_result], Filler]) -> None:
    """Write the output (under --out or in place), then remove the input if keep=false."""
    keep = parse_bool(ctx.options, "keep", True)
    in_place = parse_bool(ctx.options, "in_place", False)
    st = os.stat(ctx.path)
    fill = fill_for(st)
    if in_place:
        _write_beside(ctx.path, final_for(ctx.path), fill, st, durable=not keep)
    else:
        if ctx.out_path is None or ctx.out_dir is None:
            raise ActionError(f"{what}: no output path (give --out DIR, or in_place=true)")
        _write_out(ctx, ctx.out_path, fill, st, durable=not keep)
    if keep:
        return
    now = os.stat(ctx.path)
    if (now.st_size, now.st_mtime_ns, now.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
        raise ActionError(f"{display_path(ctx.path)} changed while it was read: kept "
                          "(its output may be older than it)")
    os.unlink(ctx.path)
    _fsync_dir(os.path.dirname(ctx.path))


# -- the actions ---------------------------------------------------------------------------


def compress(ctx: TaskContext) -> str | None:
    """Compress with gzip or zstd into '<name>.gz' / '<name>.zst' (mode and mtime kept)."""
    fmt = parse_format(ctx.options)
    level = parse_level(ctx.options, fmt)
    suffix = FORMATS[fmt][0]

    def fill_for(st: os.stat_result) -> Filler:
        if fmt == "gzip":
            return gzip_filler(level, os.path.basename(ctx.path), int(st.st_mtime))
        return zstd_filler(level, st.st_size)

    _run(ctx, "compress", lambda p: p + suffix, fill_for)
    return None


def gzip_file(ctx: TaskContext) -> str | None:
    """Compress into '<output>.gz', keeping the mode and modification time (like gzip -k)."""
    options = {**ctx.options, "format": "gzip"}
    level = parse_level(options, "gzip")

    def fill_for(st: os.stat_result) -> Filler:
        return gzip_filler(level, os.path.basename(ctx.path), int(st.st_mtime))

    _run(ctx, "gzip", lambda p: p + ".gz", fill_for)
    return None


def decompressed_name(path: str) -> str | None:
    """``a.log.gz`` -> ``a.log``, ``a.tgz`` -> ``a.tar``; None without a known suffix."""
    stem, ext = os.path.splitext(path)
    new = _SUFFIXES.get(ext.lower())
    if new is None or not os.path.basename(stem):
        return None
    return stem if new == "." else stem + new


def _decompressed(path: str) -> str:
    name = decompressed_name(path)
    if name is None:
        raise ActionError(f"unknown suffix: {display_path(os.path.basename(path))} does not "
                          f"end in {', '.join(_SUFFIXES)}")
    return name


def decompress(ctx: TaskContext) -> str | None:
    """Decompress gzip or zstd (told by the content) into the name without its suffix."""
    _decompressed(ctx.path)
    fmt = sniff(ctx.path)

    def fill_for(st: os.stat_result) -> Filler:
        return gunzip if fmt == "gzip" else unzstd

    _run(ctx, "decompress", _decompressed, fill_for)
    return None


class CompressAction(PythonAction):
    """``compress``/``decompress``/``gzip``: the output name follows the options
    (``format=zstd`` -> ``.zst``), ``in_place=true`` needs no ``--out``, and an in-place job's
    leftover temporaries (after a kill) are removed when it runs again."""

    def for_options(self, options: dict[str, str]) -> CompressAction:
        """A copy declaring what these options write (values are checked later by check)."""
        bound = copy.copy(self)
        try:
            in_place = parse_bool(options, "in_place", False)
            keep = parse_bool(options, "keep", True)
            if self.name == "compress":
                bound.out_suffix = FORMATS[parse_format(options)][0]
        except InputError:
            return bound
        bound.needs_out = not in_place
        bound.repeat_safe = keep
        return bound

    def check(self, spec: ActionSpec, settings: EngineSettings) -> None:
        """The usual checks, then: in place and --out do not go together."""
        super().check(spec, settings)
        if parse_bool(spec.options, "in_place", False) and settings.out_dir:
            raise InputError("--opt", "in_place=true writes beside each input: drop --out "
                                      "(or drop in_place to write under --out)")

    def output_name(self, path: str) -> str:
        """``decompress`` strips the compressed suffix; the others append theirs."""
        if self.name == "decompress":
            return decompressed_name(path) or path
        return super().output_name(path)

    def prepare_job(self, info: JobInfo) -> dict[int, str]:
        """In place: remove the temporaries a killed run left beside its inputs."""
        if not parse_bool(info.options, "in_place", False):
            return {}
        for root in info.roots:
            inputs = [(t.root, t.rel) for t in info.tasks
                      if t.root == root and t.state != "skipped"]
            remove_leftovers(self, root, inputs, False)
        return {}


_KEEP = "true (default): keep the input; false: remove it once the output is whole"
_IN_PLACE = "true: write beside the input (no --out; an existing file is never replaced)"


def make_compress() -> CompressAction:
    return CompressAction(
        "compress", compress, ExecKind.PROCESS, needs_out=True,
        description="Compress with gzip or zstd (streamed; mode and mtime kept).",
        options={
            "format": "gzip (default) or zstd",
            "level": "gzip 1..9 (default 6), zstd 1..22 (default 3)",
            "keep": _KEEP,
            "in_place": _IN_PLACE,
        },
        validate=_check_compress, out_suffix=".gz", dedupe_default=False,
    )


def make_decompress() -> CompressAction:
    return CompressAction(
        "decompress", decompress, ExecKind.PROCESS, needs_out=True,
        description="Decompress gzip or zstd (.gz, .zst, .tgz): every member, checked whole.",
        options={"keep": _KEEP, "in_place": _IN_PLACE},
        validate=_check_decompress, dedupe_default=False,
    )


def make_gzip() -> CompressAction:
    """``gzip``: ``compress format=gzip`` under its old name and options (level only)."""
    return CompressAction(
        "gzip", gzip_file, ExecKind.PROCESS, needs_out=True,
        options={"level": "compression level 1 (fast) .. 9 (small); default 6"},
        validate=_check_gzip, out_suffix=".gz",
    )
