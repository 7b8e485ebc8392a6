"""The built-in actions (``--action NAME``): copy, checksum, gzip, noop, sleep, fail.

Each is a top-level function, so the process pool can find it again by name in a worker.
Every write goes through :func:`check_output_path` (checked at the moment of writing, since the
tree may have changed since the preview) and an atomic temporary file.

What they print (their returned text, which headless runs print as the task's stdout) is what
their Unix twin prints: ``checksum`` a ``sha256sum`` line, byte for byte; ``copy`` and ``gzip``
nothing, as ``cp`` and ``gzip`` say nothing when all went well.
"""

from __future__ import annotations

import asyncio
import gzip as _gzip
import hashlib
import math
import os
import shutil

import xxhash

from ..errors import InputError
from ..model import ExecKind
from .base import Action, ActionError, TaskContext
from .output import OutputError, atomic_path, atomic_write, check_output_path
from .python import PythonAction

__all__ = ["BUILTINS"]

_CHUNK = 1 << 20


# -- option parsing ------------------------------------------------------------------------


def _float_opt(options: dict[str, str], key: str, default: float, lo: float, hi: float) -> float:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo <= value <= hi):
        bounds = f"{lo:g}..{hi:g}" if math.isfinite(hi) else f"{lo:g} or more"
        raise InputError("--opt", f"{key} must be a number {bounds}, got {raw!r}")
    return value


def _int_opt(options: dict[str, str], key: str, default: int, lo: int, hi: int | None) -> int:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < lo or (hi is not None and value > hi):
        bounds = f"{lo}..{hi}" if hi is not None else f"{lo} or more"
        raise InputError("--opt", f"{key} must be a whole number {bounds}, got {raw!r}")
    return value


def _target(ctx: TaskContext, action: str) -> str:
    """The checked output path of this task (actions that need --out)."""
    if ctx.out_path is None or ctx.out_dir is None:
        raise OutputError(f"{action}: no output path (give --out DIR)")
    check_output_path(ctx.out_path, ctx.out_dir, ctx.path)
    return ctx.out_path


# -- copy ----------------------------------------------------------------------------------


def copy_file(ctx: TaskContext) -> str | None:
    """Copy the file into the output tree, keeping its mode and modification time."""
    final = _target(ctx, "copy")
    st = os.stat(ctx.path)
    with atomic_path(final) as tmp:
        shutil.copyfile(ctx.path, tmp)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    return None


# -- checksum ------------------------------------------------------------------------------


def _sha256(path: str) -> str:
    with open(path, "rb", buffering=0) as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sum_line(digest: str, name: str) -> str:
    """``<hex>  <name>`` as ``sha256sum`` prints it: a name holding a backslash, a newline or a
    carriage return is escaped (``\\\\``, ``\\n``, ``\\r``) and the line starts with a
    backslash. ``name`` may hold surrogate escapes (a non-UTF-8 name): they stay, so the line
    encodes back to the name's own bytes (``surrogateescape``), as ``sha256sum`` writes them."""
    if "\\" in name or "\n" in name or "\r" in name:
        name = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {name}"
    return f"{digest}  {name}"


def checksum(ctx: TaskContext) -> str | None:
    """SHA-256 of the content, printed as sha256sum prints it (--out: also a .sha256 file).

    The printed line names the path as given (``sha256sum PATH``); the ``.sha256`` file names
    it under its root, so ``sha256sum -c`` run in the root checks it."""
    digest = _sha256(ctx.path)
    if ctx.out_path is not None and ctx.out_dir is not None:
        final = _target(ctx, "checksum")
        with atomic_write(final) as f:
            f.write(sum_line(digest, ctx.rel).encode("utf-8", "surrogateescape") + b"\n")
    return sum_line(digest, ctx.path)


# -- gzip ----------------------------------------------------------------------------------


def _check_gzip(options: dict[str, str]) -> None:
    _int_opt(options, "level", 6, 1, 9)


def gzip_file(ctx: TaskContext) -> str | None:
    """Compress into '<output>.gz', keeping the modification time (like gzip -k)."""
    final = _target(ctx, "gzip")
    level = _int_opt(ctx.options, "level", 6, 1, 9)
    st = os.stat(ctx.path)
    name = os.path.basename(ctx.path)
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with atomic_path(final) as tmp:
        with open(ctx.path, "rb", buffering=0) as src, open(tmp, "wb") as raw:
            gz = _gzip.GzipFile(
                filename=name, mode="wb", compresslevel=level, fileobj=raw,
                mtime=int(st.st_mtime),
            )
            with gz:
                while True:
                    n = src.readinto(view)
                    if not n:
                        break
                    gz.write(view[:n])
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    return None


# -- noop / sleep --------------------------------------------------------------------------


async def noop(ctx: TaskContext) -> str | None:
    """Do nothing (measures the engine's own overhead)."""
    return None


def _check_sleep(options: dict[str, str]) -> None:
    _float_opt(options, "seconds", 0.1, 0.0, 86400.0)


async def sleep(ctx: TaskContext) -> str | None:
    """Wait --opt seconds=S (default 0.1) without blocking a worker thread."""
    await asyncio.sleep(_float_opt(ctx.options, "seconds", 0.1, 0.0, 86400.0))
    return None


# -- fail ----------------------------------------------------------------------------------


def _check_fail(options: dict[str, str]) -> None:
    _float_opt(options, "rate", 1.0, 0.0, 1.0)
    _int_opt(options, "times", 0, 0, None)


def _fraction(path: str) -> float:
    return xxhash.xxh3_64_intdigest(os.fsencode(path)) / 2.0**64


def fail(ctx: TaskContext) -> str | None:
    """Fail on purpose: all files, a 'rate' fraction of them, or their first 'times' attempts."""
    rate = _float_opt(ctx.options, "rate", 1.0, 0.0, 1.0)
    times_raw = ctx.options.get("times")
    times = _int_opt(ctx.options, "times", 0, 0, None) if times_raw is not None else None
    chosen = rate >= 1.0 or _fraction(ctx.path) < rate
    if chosen and (times is None or ctx.attempt <= times):
        raise ActionError(f"deliberate failure (attempt {ctx.attempt})")
    return None


# -- the table -----------------------------------------------------------------------------


def _builtins() -> dict[str, Action]:
    listing = PythonAction(
        "checksum", checksum, ExecKind.THREAD, options={}, writes_output=True,
        out_suffix=".sha256",
    )
    listing.dedupe_default = False  # type: ignore[attr-defined]  # a line for every file
    actions: list[Action] = [
        PythonAction(
            "copy", copy_file, ExecKind.THREAD, needs_out=True, options={},
        ),
        listing,
        PythonAction(
            "gzip", gzip_file, ExecKind.PROCESS, needs_out=True,
            options={"level": "compression level 1 (fast) .. 9 (small); default 6"},
            validate=_check_gzip, out_suffix=".gz",
        ),
        PythonAction("noop", noop, ExecKind.ASYNC, options={}),
        PythonAction(
            "sleep", sleep, ExecKind.ASYNC,
            options={"seconds": "how long each task waits; default 0.1"},
            validate=_check_sleep,
        ),
        PythonAction(
            "fail", fail, ExecKind.THREAD,
            description="Fail on purpose (for tests and demos).",
            options={
                "rate": "fraction 0..1 of the files that fail (chosen by path); default 1",
                "times": "fail only the first N attempts of a file (tests --retries)",
            },
            validate=_check_fail,
        ),
    ]
    return {a.name: a for a in actions}


BUILTINS: dict[str, Action] = _builtins()
"""Built-in actions by name. Plugins and ``register`` cannot replace them."""
