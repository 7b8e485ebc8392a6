"""Job statistics: counters, progress bar, rates, elapsed / ETA and a throughput sparkline.

Elapsed time and the sparkline's per-second buckets come from the app's injectable clock (not
from the engine's timestamps) so a frozen clock renders identical snapshots; the counters and
the smoothed rates come from the engine's statistics. The counters and the rates are two lines
of fixed height, packed by :mod:`.stat_lines` so a label never leaves its number and the
screen never shifts as numbers grow. A watch has no end: no progress bar, no ETA.
"""

from __future__ import annotations

import itertools
from collections import deque

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Sparkline, Static

from ...engine.events import Stats
from .. import format as fmt
from ..clock import Clock, SystemClock
from .stat_lines import Pair, pack, pair, plural

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

    DEFAULT_CSS = """
    StatsPanel > #stats-counts, StatsPanel > #stats-rates, StatsPanel > #stats-steps {
        height: 1;
    }
    StatsPanel.-watch #progress { display: none; }
    """

    def __init__(
        self, clock: Clock | None = None, *, watch: bool = False, id: str | None = None
    ) -> None:
        super().__init__(id=id, classes="-watch" if watch else None)
        self.open_ended = watch
        """A watch: open-ended, so no progress bar and no ETA."""
        self.loaded = False
        """Statistics were shown (until then the job's size is unknown, not 0)."""
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
        """Job state shown in the panel (running, paused, done...)."""
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="stats-counts")
        yield Static("", id="stats-rates")
        steps = Static("", id="stats-steps")
        steps.display = False  # a pipeline's counts per step (show_steps)
        yield steps
        with Horizontal(id="stats-bars"):
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Static("", id="stats-times")
            yield Sparkline([0.0, 0.0], id="sparkline")

    def show_state(self, text: str) -> None:
        """Say the job's state (running, paused, done...) now."""
        self.state_text = text
        self.refresh_text()

    def show_steps(self, markup: str | None) -> None:
        """A pipeline's line of counts per step (None: a one-action job, no line)."""
        line = self.query_one("#stats-steps", Static)
        if line.display != (markup is not None):
            line.display = markup is not None
        if markup is not None:
            self._set_line("#stats-steps", markup)

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
        self.loaded = True
        self.throughput.observe(stats.finished_count)
        bar = self.query_one(ProgressBar)
        if stats.total:
            bar.update(total=stats.total, progress=stats.finished_count)
        else:  # no files matched: nothing left to do is all of it done, not 0%
            bar.update(total=1, progress=1)
        series = self.throughput.series()
        self.query_one(Sparkline).data = series if len(series) >= 2 else [0.0, 0.0]
        self.refresh_text()

    def _set_line(self, selector: str, markup: str) -> None:
        """Update a line when its text changed; every line has a fixed height, so an update
        never needs a (screen-wide) layout pass."""
        if self._shown.get(selector) == markup:
            return
        self._shown[selector] = markup
        self.query_one(selector, Static).update(markup, layout=False)

    def counter_pairs(self) -> list[Pair]:
        """The counters line's pairs; a zero cancelled or skipped count goes first when the
        line is short of room."""
        s = self.stats
        pairs = [
            pair("total", fmt.count(s.total)),
            pair("queued", fmt.count(s.queued)),
            pair("running", fmt.count(s.running), "b $accent"),
            pair("done", fmt.count(s.done), "b $success"),
            pair("failed", fmt.count(s.failed), "b $error"),
            pair("cancelled", fmt.count(s.cancelled), "b $warning",
                 drop=0 if s.cancelled else 11),
            pair("skipped", fmt.count(s.skipped), drop=0 if s.skipped else 10),
        ]
        if s.retrying:
            pairs.insert(2, pair("retrying", fmt.count(s.retrying), "b $warning"))
        return pairs

    def rate_pairs(self) -> list[Pair]:
        """The rates line's pairs: the state word, success rate, files/s, bytes/s, workers."""
        s = self.stats
        elapsed = self.elapsed
        finished_run = self.run_started is None and s.finished
        if finished_run:
            files_rate = s.finished_count / elapsed if elapsed > 0 else None
            byte_rate = s.bytes_done / elapsed if elapsed > 0 else None
        else:
            files_rate, byte_rate = s.files_per_s, s.bytes_per_s
        files = fmt.rate(files_rate, "files") if files_rate is not None else "- files/s"
        nbytes = fmt.byte_rate(byte_rate) if byte_rate is not None else "- B/s"
        pairs = [
            Pair(f"[b reverse] {self.state_text} [/]", f" {self.state_text} "),
            pair("ok", fmt.percent(s.success_rate), drop=2),
            Pair(files, files, drop=1),
            Pair(nbytes, nbytes, drop=3),
        ]
        if s.workers:  # 0 only before the engine exists (counts read from the store)
            count, _, word = plural(s.workers, "worker").partition(" ")
            pairs.append(pair(word, count, after=True))
        return pairs

    def refresh_text(self) -> None:
        """Re-render the text lines (also every second for the elapsed clock)."""
        s = self.stats
        width = self.content_size.width or 78
        counts, rates = pack(self.counter_pairs(), self.rate_pairs(), width)
        self._set_line("#stats-counts", counts)
        self._set_line("#stats-rates", rates)
        elapsed = self.elapsed
        if self.open_ended:  # a watch: how long it has watched, never an ETA
            self._set_line("#stats-times", f"{fmt.clock_duration(elapsed)} watching")
            return
        finished_run = self.run_started is None and s.finished
        paused = s.paused and not finished_run
        if self.loaded and not s.total:  # as the bar says: nothing to do is all done
            self._set_line("#stats-times", f"{fmt.clock_duration(elapsed)}  [b]no files matched[/]")
            return
        eta = fmt.eta(s.eta, finished=finished_run and not s.queued, paused=paused)
        self._set_line("#stats-times", f"{fmt.clock_duration(elapsed)}  ETA [b]{eta}[/]")

    def on_resize(self) -> None:
        self._shown.clear()
        self.refresh_text()
