"""Job statistics: counters, progress bar, rates, elapsed / ETA and a throughput sparkline.

Elapsed time and the sparkline's per-second buckets come from the app's injectable clock (not
from the engine's timestamps) so a frozen clock renders identical snapshots; the counters and
the smoothed rates come from the engine's statistics.
"""

from __future__ import annotations

import itertools
from collections import deque

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import ProgressBar, Sparkline, Static

from ...engine.events import Stats
from .. import format as fmt
from ..clock import Clock, SystemClock

HISTORY = 60
"""Seconds of throughput the sparkline shows."""


class Throughput:
    """Files finished per clock second, for the sparkline."""

    def __init__(self, clock: Clock, seconds: int = HISTORY) -> None:
        self.clock = clock
        """Source of the bucket times."""
        self.seconds = seconds
        """How many buckets are kept."""
        self._buckets: deque[tuple[int, int]] = deque(maxlen=seconds + 1)

    def observe(self, finished: int) -> None:
        """Record the finished count now (called on every statistics update)."""
        second = int(self.clock.monotonic())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1] = (second, finished)
        else:
            self._buckets.append((second, finished))

    def series(self) -> list[float]:
        """Finished per second, oldest first; seconds without an update count as 0."""
        points = list(self._buckets)
        out: list[float] = []
        for (s0, n0), (s1, n1) in itertools.pairwise(points):
            gap = max(1, s1 - s0)
            out.extend([0.0] * (gap - 1))
            out.append(float(max(0, n1 - n0)))
        return out[-self.seconds :]

    def clear(self) -> None:
        """Forget the history (a new run)."""
        self._buckets.clear()


class StatsPanel(Vertical):
    """The top of the dashboard."""

    def __init__(self, clock: Clock | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock: Clock = clock or SystemClock()
        """Injected clock for elapsed time and throughput buckets."""
        self.stats = Stats()
        """The statistics last shown."""
        self.throughput = Throughput(self.clock)
        """Sparkline data source."""
        self.run_started: float | None = None
        """Clock time when the current run started (None when not running)."""
        self.elapsed_before = 0.0
        """Elapsed seconds of earlier runs in this session (retry after finish)."""
        self.state_text = "starting"
        self._line_counts: dict[str, int] = {}
        """Job state shown in the panel (running, paused, done...)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="stats-counts")
        yield Static("", id="stats-rates")
        with Horizontal(id="stats-bars"):
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Static("", id="stats-times")
            yield Sparkline([0.0, 0.0], id="sparkline")

    def show_state(self, text: str) -> None:
        """Say the job's state (running, paused, done...) now."""
        self.state_text = text
        self.refresh_text()

    def show_workers(self, workers: int) -> None:
        """The engine's worker count changed."""
        self.stats.workers = workers
        self.refresh_text()

    def start_run(self) -> None:
        """A run (or a retry run) starts now."""
        self.run_started = self.clock.monotonic()

    def end_run(self) -> None:
        """The run ended: freeze elapsed."""
        if self.run_started is not None:
            self.elapsed_before += self.clock.monotonic() - self.run_started
            self.run_started = None
        self.refresh_text()

    @property
    def elapsed(self) -> float:
        """Seconds this job has been running in this session."""
        running = 0.0
        if self.run_started is not None:
            running = self.clock.monotonic() - self.run_started
        return self.elapsed_before + running

    def update_stats(self, stats: Stats) -> None:
        """Show new statistics (called at most ~4 times a second)."""
        self.stats = stats
        self.throughput.observe(stats.finished_count)
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, stats.total), progress=stats.finished_count)
        series = self.throughput.series()
        self.query_one(Sparkline).data = series if len(series) >= 2 else [0.0, 0.0]
        self.refresh_text()

    def _set_line(self, selector: str, markup: str) -> None:
        """Update a line, asking for a (screen-wide) layout pass only when its height may
        change: at 4 updates/s a layout pass per update would cost more than the repaint."""
        widget = self.query_one(selector, Static)
        length = Content.from_markup(markup).cell_length
        width = max(1, widget.size.width)
        lines = -(-length // width)
        relayout = lines != self._line_counts.get(selector)
        self._line_counts[selector] = lines
        widget.update(markup, layout=relayout)

    def refresh_text(self) -> None:
        """Re-render the text lines (also every second for the elapsed clock)."""
        s = self.stats
        parts = [
            f"total [b]{fmt.count(s.total)}[/]",
            f"queued [b]{fmt.count(s.queued)}[/]",
            f"running [b $accent]{fmt.count(s.running)}[/]",
            f"done [b $success]{fmt.count(s.done)}[/]",
            f"failed [b $error]{fmt.count(s.failed)}[/]",
            f"cancelled [b $warning]{fmt.count(s.cancelled)}[/]",
            f"skipped [b]{fmt.count(s.skipped)}[/]",
        ]
        if s.retrying:
            parts.insert(2, f"retrying [b $warning]{fmt.count(s.retrying)}[/]")
        self._set_line("#stats-counts", "  ".join(parts))
        elapsed = self.elapsed
        finished_run = self.run_started is None and s.finished
        paused = s.paused and not finished_run
        if finished_run:
            files_rate = s.finished_count / elapsed if elapsed > 0 else None
            byte_rate = s.bytes_done / elapsed if elapsed > 0 else None
        else:
            files_rate, byte_rate = s.files_per_s, s.bytes_per_s
        rates = [
            f"[b reverse] {self.state_text} [/]",
            f"ok [b]{fmt.percent(s.success_rate)}[/]",
            fmt.rate(files_rate, "files") if files_rate is not None else "- files/s",
            fmt.byte_rate(byte_rate) if byte_rate is not None else "- B/s",
            f"[b]{s.workers}[/] workers",
        ]
        self._set_line(
            "#stats-times",
            f"{fmt.clock_duration(elapsed)}  ETA [b]"
            f"{fmt.eta(s.eta, finished=finished_run and not s.queued, paused=paused)}[/]",
        )
        self._set_line("#stats-rates", "  ".join(rates))
