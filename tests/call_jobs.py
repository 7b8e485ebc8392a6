"""Importable functions for the call-job tests (tests/test_api_calls.py): a job given by
reference must be found again by another process, so these cannot live in a test module."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any


def add(a: int, b: int) -> int:
    return a + b


def echo(value: Any) -> Any:
    return value


def fail(message: str) -> None:
    raise ValueError(message)


async def double_later(x: int) -> int:
    await asyncio.sleep(0.01)
    return x * 2


def cpu_square(x: int) -> int:
    return x * x


def stamp(path: str, label: str, seconds: float) -> str:
    """Append 'start label t' and 'end label t' lines to ``path`` around a sleep."""
    with open(path, "a") as f:
        f.write(f"start {label} {time.time():.6f} {os.getpid()}\n")
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write(f"end {label} {time.time():.6f} {os.getpid()}\n")
    return label


def flaky(path: str, fails: int) -> int:
    """Fail the first ``fails`` calls (counted in ``path``), then return the call count."""
    n = 0
    if os.path.exists(path):
        with open(path) as f:
            n = int(f.read())
    with open(path, "w") as f:
        f.write(str(n + 1))
    if n < fails:
        raise RuntimeError(f"call {n + 1} fails")
    return n + 1
