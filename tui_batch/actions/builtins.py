"""The built-in actions (``--action NAME``): copy, checksum, gzip, noop, sleep, fail.

``copy``, ``move`` and ``hardlink`` are in :mod:`.fileops` (conflicts, moves that survive a kill).
``checksum`` is in :mod:`.checksum`, ``verify`` in :mod:`.verify`, ``compress``,
``decompress`` and ``gzip`` (``compress format=gzip`` under its old name) in :mod:`.compress`.

Each is a top-level function, so the process pool can find it again by name in a worker.
Every write goes through :func:`check_output_path` (checked at the moment of writing, since the
tree may have changed since the preview) and an atomic temporary file.

What they print (their returned text, which headless runs print as the task's stdout) is what
their Unix twin prints: ``checksum`` a ``sha256sum`` line, byte for byte; ``copy`` and ``gzip``
nothing, as ``cp`` and ``gzip`` say nothing when all went well.
"""

from __future__ import annotations

import asyncio
import math
import os

import xxhash

from ..errors import InputError
from ..model import ExecKind
from .base import Action, ActionError, TaskContext
from .checksum import make_checksum
from .compress import make_compress, make_decompress, make_gzip
from .extract import description as extract_description
from .extract import extract_text
from .fileops import FILEOPS_OPTIONS, check_conflict, copy_file, hardlink_file, move_file
from .output import OutputError, check_output_path
from .python import PythonAction
from .verify import make_verify

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
            "copy", copy_file, ExecKind.THREAD, needs_out=True, options=FILEOPS_OPTIONS,
            validate=check_conflict,
        ),
        PythonAction(
            "move", move_file, ExecKind.THREAD, needs_out=True, options=FILEOPS_OPTIONS,
            validate=check_conflict, repeat_safe=False,  # it removes its input: see fileops
        ),
        PythonAction(
            "hardlink", hardlink_file, ExecKind.THREAD, needs_out=True,
            options=FILEOPS_OPTIONS, validate=check_conflict,
        ),
        make_checksum(),
        make_verify(),
        make_compress(),
        make_decompress(),
        make_gzip(),  # compress format=gzip under its old name and options
        PythonAction("extract-text", extract_text, description=extract_description()),
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
