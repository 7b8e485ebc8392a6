"""The form's live count of the files its filter matches.

Counting is a scan, and a scan of a big tree or a slow disk takes a while: it runs in a thread,
starts only after a short silence in the typing (a debounce), and every change cancels the scan
in flight, so typing never waits for the disk. A result that arrives for an older filter is
dropped (each count has a generation number).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual import work
from textual.timer import Timer
from textual.widgets import Static

from ...errors import InputError
from ...model import FilterSpec
from ...select import scan
from .. import format as fmt

COUNT_DEBOUNCE = 0.25
"""Seconds of typing silence before the live count rescans."""

FIX_FIELDS = "[b]-[/] fix the fields marked in red"
"""Shown instead of a count while the filter cannot be built."""


class FileCount(Static):
    """``N files · SIZE`` for the filter the form builds now."""

    def __init__(
        self, build_filter: Callable[[], FilterSpec | None], *, id: str | None = None
    ) -> None:
        super().__init__("", id=id)
        self.build_filter = build_filter
        """The form's filter now, or None when a field is wrong (the form shows why)."""
        self.generation = 0
        """Bumped per count so a stale worker's result is ignored."""
        self.last_count: tuple[int, int, bool] | None = None
        """(files, bytes, complete) of the latest count shown."""
        self._cancel: threading.Event | None = None
        self._timer: Timer | None = None

    def schedule(self, immediate: bool = False) -> None:
        """Debounce: rescan COUNT_DEBOUNCE s after the last change; cancel the running scan."""
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if immediate:
            self._start()
        else:
            self._timer = self.set_timer(COUNT_DEBOUNCE, self._start)

    @property
    def pending(self) -> bool:
        """A recount is scheduled (debounce) and has not started yet."""
        return self._timer is not None

    def _start(self) -> None:
        self._timer = None
        spec = self.build_filter()
        if spec is None:
            self.update(FIX_FIELDS)
            return
        self.generation += 1
        cancel = threading.Event()
        self._cancel = cancel
        self.update("counting…")
        self.count_files(spec, cancel, self.generation)

    @work(thread=True, exclusive=True, group="count")
    def count_files(self, spec: FilterSpec, cancel: threading.Event, generation: int) -> None:
        """Scan in a thread; report progress every 100 ms, the total at the end."""
        files = total = 0
        last = time.monotonic()
        try:
            for entry in scan(spec, cancel=cancel):
                files += 1
                total += entry.size
                now = time.monotonic()
                if now - last > 0.1:
                    last = now
                    self.app.call_from_thread(self._show, generation, files, total, False)
        except (OSError, InputError) as exc:
            if not cancel.is_set():
                self.app.call_from_thread(self._show_error, generation, str(exc))
            return
        if not cancel.is_set():
            self.app.call_from_thread(self._show, generation, files, total, True)

    def _show(self, generation: int, files: int, total: int, complete: bool) -> None:
        if generation != self.generation or not self.is_attached:
            return
        self.last_count = (files, total, complete)
        text = f"[b]{fmt.count(files)}[/] files · [b]{fmt.size(total)}[/]"
        self.update(text if complete else f"{text} so far…")

    def _show_error(self, generation: int, message: str) -> None:
        if generation == self.generation and self.is_attached:
            self.update(f"[b]-[/] {message}")
