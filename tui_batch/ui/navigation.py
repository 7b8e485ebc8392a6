"""What a screen may ask of the app: the job store, the clock, and to open another screen.

Screens never import each other or the app (a screen that built the next one itself would tie
every screen to every other, and the app to them all in a cycle). A screen reaches the app as
``navigator(self)``, typed by :class:`Navigator`; the app (:class:`~tui_batch.ui.app.BatchApp`)
is the one place that knows the screen classes and builds them. Modal dialogs are not routes:
a screen pushes the dialog it needs, from ``ui.dialogs``, with a callback for the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from ..model import JobSpec
    from ..store import Store
    from .clock import Clock


class Navigator(Protocol):
    """The app as its screens see it."""

    @property
    def store(self) -> Store:
        """The job store (opened on first use)."""
        ...

    @property
    def clock(self) -> Clock:
        """Time source of every widget that shows dates or durations."""
        ...

    def open_form(self, *, root: str | None = None, spec: JobSpec | None = None) -> None:
        """Push the filter form, prefilled with ``root`` or from ``spec``."""
        ...

    def open_preview(self, spec: JobSpec) -> None:
        """Push the preview of what ``spec`` would process."""
        ...

    def open_dashboard(self, job_id: int, *, autostart: bool, replace: bool = False) -> None:
        """Show a stored job's dashboard, running it at once when ``autostart``; ``replace``
        swaps it for the current screen instead of pushing it."""
        ...

    def open_attached(self, job_id: int) -> None:
        """Push the dashboard of job ``job_id``, running in another process, attached to it:
        its controls act on that job; leaving it never stops it."""
        ...

    def open_jobs(self, *, replace: bool = False) -> None:
        """Show the jobs screen (pushed, or in place of the current screen)."""
        ...

    def open_log(self, job_id: int, task: Any, engine: Callable[[], Any] | None = None) -> None:
        """Push the full output of ``task`` (of job ``job_id``); ``engine`` gives the live
        engine, whose running task is followed."""
        ...


def navigator(node: DOMNode) -> Navigator:
    """The app of ``node`` (a screen or one of its widgets), as a :class:`Navigator`."""
    return cast("Navigator", node.app)
