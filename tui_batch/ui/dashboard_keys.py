"""The dashboard's keys, in the order its footer offers them, and the questions they ask.

The footer keeps, in the order listed here, the keys that fit at the terminal's width, then
Help and Quit (the app's): so the order is a decision, the most used first, and it lives apart
from the screen's code, next to the wording of the confirmations those keys (and quitting)
ask. Keys a user reaches for less are bound but not shown: the help (``?``) and the command
palette list them. No widget here: the screen builds the dialogs from these words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.binding import Binding, BindingType

from ..engine.events import Stats
from .widgets.stat_lines import plural

BINDINGS: list[BindingType] = [
    Binding("p", "pause", "Pause"),
    Binding("p", "resume", "Resume"),
    Binding("s", "start", "Start"),
    Binding("r", "retry_failed", "Retry failed"),
    Binding("C", "cancel_all", "Cancel all"),
    Binding("plus,equals_sign", "workers(1)", "Workers", key_display="+/-"),
    Binding("minus", "workers(-1)", "Fewer workers", key_display="-", show=False),
    Binding("slash", "find", "Filter", key_display="/"),
    Binding("escape", "clear_filter", "Clear filter"),
    Binding("f", "filter", "Status"),
    Binding("c", "cancel_task", "Cancel task"),
    Binding("enter", "open_log", "Log"),
    Binding("z", "toggle_log", "Tall log", show=False),
    Binding("escape", "back", "Back"),
    Binding("P", "priority", "Priority", show=False),
    Binding("o", "sort", "Sort", show=False),
    Binding("tab", "app.focus_next", "Focus", show=False),
]
"""The dashboard's bindings (``enter``: the full-screen log; ``z``: the tall log pane)."""

GUARDED_ACTIONS = ("pause", "resume", "start", "cancel_task", "cancel_all", "retry_failed",
                   "workers", "priority", "back", "clear_filter", "filter", "find")
"""Actions whose availability changes with the job's state (the footer is refreshed when
one of them changes)."""


@dataclass(frozen=True, slots=True)
class Question:
    """A confirmation: its title, its text and its two answers."""

    title: str
    text: str
    yes: str
    no: str


def quit_question(engine: Any, *, watch: bool, advice: str) -> Question:
    """What quitting asks while ``engine``'s job runs (``advice``: how to finish it later).
    A watch is stopped rather than quit: files arriving later wait for the next watch."""
    stats = engine.snapshot() if engine is not None else Stats()
    kill_grace = engine.settings.kill_grace if engine is not None else 0.0
    if watch:
        running = stats.running
        verb = "gets" if running == 1 else "get"
        tasks = (f"{plural(running, 'running task')} {verb} {kill_grace:g} s to finish, "
                 "and what" if running else "What")
        return Question(
            "Stop watching?",
            "Files that arrive from now on are not processed until this watch runs again. "
            f"{tasks} is left runs when the same watch starts again.",
            "Stop watching",
            "Keep watching",
        )
    left = stats.total - stats.finished_count
    return Question(
        "Quit while the job runs?",
        f"{plural(left, 'task')} {'is' if left == 1 else 'are'} not finished. Running tasks "
        f"are stopped; {advice}",
        "Quit",
        "Keep running",
    )


def cancel_all_question(stats: Stats, *, watch: bool) -> Question:
    """What "Cancel all" asks."""
    return Question(
        "Cancel all tasks?",
        f"{plural(stats.queued, 'waiting task')} will not run and "
        f"{plural(stats.running, 'running task')} {'is' if stats.running == 1 else 'are'} "
        "stopped. Retry failed (r) can queue them again."
        + (" Files arriving later are still processed." if watch else ""),
        "Cancel all",
        "Keep watching" if watch else "Keep running",
    )
