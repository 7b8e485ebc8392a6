"""Dashboard or plain output, and running a stored job headless.

The brief's contract: ``run``, ``resume``, ``watch`` and ``demo`` open the dashboard on a
terminal and print progress otherwise (``--json``, ``--headless``, ``TUI_BATCH_NO_TUI`` or no
terminal). This module decides which (:func:`want_tui`), picks the progress style, and runs a
job without the TUI: progress through a :class:`~.progress.Reporter`, Ctrl-C, SIGTERM and
SIGHUP stopping it resumably, the exit code of the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from ..jobs import JobRunner
from ..store import Store
from .progress import Reporter

__all__ = ["reporter_style", "run_headless", "run_runner", "want_tui"]


def want_tui(as_json: bool, headless: bool) -> bool:
    """Open the dashboard: not asked for plain output and both stdin and stdout are a
    terminal."""
    if as_json or headless or os.environ.get("TUI_BATCH_NO_TUI"):
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def reporter_style(as_json: bool) -> str:
    """``json`` with --json, else a ``bar`` on a terminal and ``lines`` in a log."""
    if as_json:
        return "json"
    return "bar" if sys.stderr.isatty() else "lines"


async def run_runner(runner: JobRunner, style: str) -> int:
    """Run a job headless with progress output and Ctrl-C / SIGTERM handling."""
    reporter = Reporter(runner.engine, style, job_id=runner.job_id, db=runner.store.path)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, runner.stop)
    try:
        code = await runner.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await runner.aclose()
    reporter.finish(code)
    return code


def run_headless(store: Store, job_id: int, style: str, workers: int | None = None) -> int:
    """Run stored job ``job_id`` to its end without the TUI; returns the exit code."""
    runner = JobRunner(store, job_id, workers=workers)
    return asyncio.run(run_runner(runner, style))
