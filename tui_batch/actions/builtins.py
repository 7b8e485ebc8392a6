"""The built-in actions (``--action NAME``): copy, checksum, gzip, noop, sleep, fail.

Each is a top-level function, so the process pool can find it again by name in a worker.
Every write goes through :func:`check_output_path` (checked at the moment of writing, since the
tree may have changed since the preview) and an atomic temporary file.
"""

from __future__ import annotations

import asyncio
import gzip as _gzip
import math
import os
import shutil

import xxhash

from ..errors import InputError
from ..model import ExecKind
from .base import Action, ActionError, TaskContext
from .output import OutputError, atomic_path, atomic_write, check_output_path, display_path
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


def _xxh128(path: str) -> str:
    h = xxhash.xxh3_128()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(view)
            if not n:
                break
            h.update(view[:n])
    return h.hexdigest()


def checksum(ctx: TaskContext) -> str | None:
    """xxh3-128 of the content, as '<hex>  <rel>'; with --out also a '.xxh128' file."""
    digest = _xxh128(ctx.path)
    if ctx.out_path is not None and ctx.out_dir is not None:
        final = _target(ctx, "checksum")
        with atomic_write(final) as f:
            f.write(digest.encode("ascii") + b"  " + os.fsencode(ctx.rel) + b"\n")
    return f"{digest}  {display_path(ctx.rel)}"


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
        out_size = os.path.getsize(tmp)
    ratio = f" ({out_size / st.st_size:.0%})" if st.st_size else ""
    return f"{st.st_size} -> {out_size} bytes{ratio}"


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
    actions: list[Action] = [
        PythonAction(
            "copy", copy_file, ExecKind.THREAD, needs_out=True, options={},
        ),
        PythonAction(
            "checksum", checksum, ExecKind.THREAD, options={}, writes_output=True,
            out_suffix=".xxh128",
        ),
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
