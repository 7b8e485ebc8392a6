"""What the watch tests share: waiting for a condition, a running Watcher as a context, the
events of one kind, the real `tui-batch watch` command with its JSON lines.

Why a module of its own: test files import these helpers from here, never from another test
module (pytest imports a test file as ``test_watch``; importing it again as
``tests.test_watch`` made a second copy, whose test action replaced the first one's in the
registry, so that copy's tests waited for records that went to the other list).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tests.conftest import tui_batch_cmd
from tui_batch.model import JobSpec
from tui_batch.store import Store
from tui_batch.watch import Watcher, WatchEvent

__all__ = ["_start_cli", "_wait", "kinds", "until", "watching"]


async def until(pred: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def watching(
    spec: JobSpec, store: Store, cls: type[Watcher] = Watcher, **kw: Any
) -> AsyncIterator[tuple[Watcher, list[WatchEvent]]]:
    kw.setdefault("settle", 0.3)
    w = cls(spec, store, **kw)
    events: list[WatchEvent] = []
    w.subscribe(events.append)
    task = asyncio.create_task(w.run())
    try:
        await until(lambda: any(e.kind == "scan" for e in events) or task.done(), 15,
                    "the start-up scan")
        assert not task.done(), task.result()
        yield w, events
    finally:
        w.stop()
        code = await asyncio.wait_for(task, 30)
        await w.aclose()
        assert code == 0


def kinds(events: list[WatchEvent], kind: str, path: Path | None = None) -> list[WatchEvent]:
    return [e for e in events if e.kind == kind and (path is None or e.path == str(path))]


def _start_cli(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], list[dict]]:
    proc = subprocess.Popen([*tui_batch_cmd(), "watch", *args, "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[dict] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(json.loads(line))

    threading.Thread(target=reader, daemon=True).start()
    return proc, lines


def _wait(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
