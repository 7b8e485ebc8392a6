"""Dashboard or plain output, and running a stored job headless.

The brief's contract: ``run``, ``resume``, ``watch`` and ``demo`` open the dashboard on a
terminal and print progress otherwise (``--json``, ``--headless``, ``TUI_BATCH_NO_TUI`` or no
terminal; asking how task output is printed, ``-k``, ``--tag``, ``--quiet``, ``--results``,
also means no dashboard). This module decides which (:func:`want_tui`), picks the progress
style, and runs a job without the TUI: the tasks' output (:mod:`.task_output`) and progress
through a :class:`~.progress.Reporter`, Ctrl-C, SIGTERM and SIGHUP stopping it resumably (and
a closed stdout, as ``| head`` does), the exit code of the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable

from ..engine import Engine
from ..jobs import JobRunner
from ..store import Store
from .progress import Reporter
from .task_output import OutputChoice, TaskOutput

__all__ = ["make_output", "print_report", "reporter_style", "run_headless", "run_runner",
           "stdout_closed", "want_tui"]


def want_tui(as_json: bool, headless: bool, choice: OutputChoice | None = None) -> bool:
    """Open the dashboard: not asked for plain output (nor for a way of printing task
    output) and both stdin and stdout are a terminal."""
    if as_json or headless or os.environ.get("TUI_BATCH_NO_TUI"):
        return False
    if choice is not None and choice != OutputChoice():
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def reporter_style(as_json: bool) -> str:
    """``json`` with --json, else a ``bar`` on a terminal and ``lines`` in a log."""
    if as_json:
        return "json"
    return "bar" if sys.stderr.isatty() else "lines"


def make_output(engine: Engine, store: Store, job_id: int, style: str,
                choice: OutputChoice | None, *, multi_root: bool = False) -> TaskOutput:
    """The printer of a headless run's task output (raw blocks, or JSON fields)."""
    from .results import ResultsDir

    choice = choice or OutputChoice()
    results = ResultsDir(choice.results) if choice.results is not None else None
    return TaskOutput(engine, store, job_id, choice, raw=style != "json",
                      multi_root=multi_root, results=results)


def stdout_closed(stop: Callable[[], None]) -> None:
    """stdout is gone (``| head`` has what it wanted): stop as SIGPIPE would, but resumably,
    and outside the event delivery that found out."""
    sys.stderr.write("tui-batch: stdout was closed: stopping\n")
    sys.stderr.flush()
    asyncio.get_running_loop().call_soon(stop)


async def run_runner(runner: JobRunner, style: str, choice: OutputChoice | None = None) -> int:
    """Run a job headless with task output, progress and Ctrl-C / SIGTERM handling."""
    output = make_output(runner.engine, runner.store, runner.job_id, style, choice,
                         multi_root=runner.engine.multi_root)
    output.on_broken = lambda: stdout_closed(runner.stop)
    reporter = Reporter(runner.engine, style, job_id=runner.job_id, db=runner.store.path,
                        output=output)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, runner.stop)
    try:
        code = await runner.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await runner.aclose()
    print_report(runner, style)
    reporter.finish(code)
    return code


def print_report(runner: JobRunner, style: str) -> None:
    """What the action said when the job ended (``verify``: missing files; ``checksum``: the
    manifest written), on stderr before the summary: plain lines, or JSON events."""
    import json

    for line in runner.report:
        if style == "json":
            line = json.dumps({"event": "report", "job": runner.job_id, "message": line})
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run_headless(store: Store, job_id: int, style: str, workers: int | None = None,
                 choice: OutputChoice | None = None) -> int:
    """Run stored job ``job_id`` to its end without the TUI; returns the exit code."""
    runner = JobRunner(store, job_id, workers=workers)
    return asyncio.run(run_runner(runner, style, choice))
