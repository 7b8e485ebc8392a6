"""What a headless ``run`` prints while it scans, checks duplicates and creates its job.

A 50,000-file tree takes seconds before the first task starts; a silent wait looks like a
hang. The counts come from ``jobs.progress`` (the TUI's preparing screen shows the same
words). Three styles, as the run's own progress (:mod:`.progress`): on a terminal one line
on stderr, redrawn in place and cleared when the job is created; in a log (stderr not a
terminal) each phase's final counts, plus a line every few seconds while a phase goes on; with
``--json`` a ``progress`` JSON line on stdout at most once a second, and each phase's final
one. Plain text never goes to stdout: it is the tasks' output.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from typing import IO

from ..jobs import Progress, progress_text

__all__ = ["PlanProgress"]

_PREFIX = "tui-batch: "


def _sentence(p: Progress) -> str:
    text = progress_text(p)
    return _PREFIX + text[:1].lower() + text[1:]


class PlanProgress:
    """A ``progress=`` callback for ``plan_job`` and ``create_job`` that prints in one of
    the styles ``bar``, ``lines`` or ``json``; call :meth:`finish` once planning is over."""

    def __init__(
        self,
        style: str,
        *,
        err: IO[str] | None = None,
        out: IO[str] | None = None,
        line_interval: float = 5.0,
        json_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.style = style
        self.err = err or sys.stderr
        self.out = out or sys.stdout
        self._clock = clock
        self._interval = json_interval if style == "json" else line_interval
        self._next = 0.0
        self._phase = ""
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        if self.style == "bar":
            self._draw(p)
            return
        now = self._clock()
        if p.phase != self._phase:  # a phase's first event: the clock starts now
            self._phase, self._next = p.phase, now + self._interval
            if not p.final:
                return  # "scanning… 0 files" says nothing a log needs
        elif not p.final:
            if now < self._next:
                return
            self._next = now + self._interval
        if self.style == "json":
            self.out.write(json.dumps({"event": "progress", **p.to_dict()}) + "\n")
            self.out.flush()
        else:
            self.err.write(_sentence(p) + "\n")
            self.err.flush()

    def _draw(self, p: Progress) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        line = _sentence(p)[: width - 1]
        self.err.write("\r" + line.ljust(width - 1))
        self.err.flush()
        self._drawn = True

    def finish(self) -> None:
        """Planning is over: the terminal line goes, so what follows starts on a clean line."""
        if self._drawn:
            width = shutil.get_terminal_size((80, 24)).columns
            self.err.write("\r" + " " * (width - 1) + "\r")
            self.err.flush()
            self._drawn = False
