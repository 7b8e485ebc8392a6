"""One task's whole output, full screen: every attempt, search, and a running task followed.

Opened with Enter on the dashboard's task list. It shows one attempt at a time (``[``/``]``
move between them: "attempt 2 of 3 · failed · exit 1"): its stdout, then its stderr in the
error colour, then the attempt's error, each headed with its size and, where output was cut
at the cap, a line saying how much was not kept. A running attempt is followed: what the
command adds is read twice to four times a second and appended; the view stays at the end
while it is there ("following"), and the user scrolling up stops that until End.

Rendering is the line API (:class:`~tui_batch.ui.widgets.log_text.LogText`): opening a
10 MiB output costs one pass to clean its bytes, in a thread, and scrolling costs one
screenful. Esc goes back (or first closes the search); ``q`` quits, as everywhere.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from ...model.logfiles import DEFAULT_MAX_OUTPUT
from ..widgets.key_footer import KeyFooter
from ..widgets.log_lines import Fed, LogDocument, Section, StreamLines
from ..widgets.log_search import LogSearch
from ..widgets.log_text import LogText
from ..widgets.task_output import (
    STREAMS,
    AttemptInfo,
    LiveFollower,
    attempt_infos,
    attempt_output,
    stream_section,
    update_stream_section,
)

if TYPE_CHECKING:
    from ...store import Store

POLL_SECONDS = 0.25
"""How often a running attempt's new output is read (and the end of the task noticed)."""


class LogScreen(Screen[None]):
    """The full output of one task of one job."""

    HELP_TITLE: ClassVar[str] = "Task log"
    """This screen's section in the help."""
    HELP_INTRO: ClassVar[str] = (
        "One attempt at a time: stdout, then stderr (in the error colour), then its error. "
        "A running task is followed while the view is at its end. `Esc` goes back (first it "
        "closes a search); `q` quits, as on every screen."
    )
    """Said in the help before the keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "match(1)", "Next"),
        Binding("N", "match(-1)", "Prev"),
        Binding("right_square_bracket", "attempt(1)", "Attempt", key_display="[ ]"),
        Binding("left_square_bracket", "attempt(-1)", "Previous attempt", show=False),
        Binding("e", "jump('err')", "Stderr"),
        Binding("o", "jump('out')", "Stdout", show=False),
        Binding("f", "follow", "Follow"),
    ]

    def __init__(
        self,
        store: Store,
        job_id: int,
        task: Any,
        engine: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        """Where the attempts and their output are read."""
        self.job_id = job_id
        """The task's job."""
        self.task_id: int = task.id
        """The task shown."""
        self._shown_task = task
        self._engine = engine or (lambda: None)
        self.attempts: list[AttemptInfo] = []
        """The task's attempts, oldest first (loaded on mount)."""
        self.index: int | None = None
        """Which of :attr:`attempts` is shown."""
        self.pinned = False
        """The user chose an older attempt: a new one starting does not take the view."""
        self._live: tuple[StreamLines, StreamLines] | None = None
        self._follower: LiveFollower | None = None
        self._reading = False
        self._status = ""
        self._binding_state: tuple[bool, ...] = (False, False, False)  # as composed

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="log-status")
        view = LogText(id="log-view")
        yield view
        yield LogSearch(view, id="log-search")
        yield KeyFooter()

    @property
    def view(self) -> LogText:
        """The output view."""
        return self.query_one("#log-view", LogText)

    @property
    def search(self) -> LogSearch:
        """The search bar."""
        return self.query_one(LogSearch)

    @property
    def following(self) -> bool:
        """A running attempt is shown and the view is at its end (new output scrolls in)."""
        return self._live is not None and self.view.following

    @property
    def shown(self) -> AttemptInfo | None:
        """The attempt shown."""
        return None if self.index is None else self.attempts[self.index]

    def on_mount(self) -> None:
        task = self.log_task
        path = (task.rel or task.path).encode("utf-8", "replace").decode("utf-8")
        self.sub_title = f"job {self.job_id} · task #{self.task_id}"
        self._path = path
        self.view.set_document(LogDocument([Section("info", [Text("reading…", style="dim")])]))
        self.view.focus()
        self._show_status()
        self.set_interval(POLL_SECONDS, self._poll, name="log-follow")
        self._load_attempts()

    @property
    def log_task(self) -> Any:
        """The task now: the engine's live record when there is one."""
        engine = self._engine()
        live = engine.tasks.get(self.task_id) if engine is not None else None
        if live is not None:
            self._shown_task = live
        return self._shown_task

    # ---------------------------------------------------------------- attempts
    @work(thread=True, exclusive=True, group="log-attempts")
    def _load_attempts(self) -> None:
        try:
            records = self.store.attempts(self.task_id)
        except Exception as exc:  # store closed or busy
            self.app.call_from_thread(self._failed, f"cannot read the attempts: {exc}")
            return
        if not get_current_worker().is_cancelled:  # cancelled: the screen is gone
            self.app.call_from_thread(self._attempts_loaded, records)

    def _attempts_loaded(self, records: list[Any]) -> None:
        if not self.is_attached:
            return
        old = self.shown
        self.attempts = attempt_infos(records, self.log_task)
        if not self.attempts:
            self.index = None
            self._show_document(LogDocument([self._not_run()]), at="top")
            return
        if old is not None and self.pinned:
            self.index = next((i for i, a in enumerate(self.attempts) if a.n == old.n), None)
        if self.index is None or not self.pinned:
            self.index = len(self.attempts) - 1
        same = old is not None and old.n == self.attempts[self.index].n
        self._open_attempt(at="follow" if same else "top")

    def _not_run(self) -> Section:
        task = self.log_task
        state = getattr(task.state, "value", task.state)
        reason = f": {task.reason}" if task.reason else ""
        return Section("info", [Text(f"Not run yet ({state}{reason}).", style="dim")])

    def _open_attempt(self, *, at: Any) -> None:
        """Show :attr:`shown`: a running one followed, a finished one read from the store."""
        info = self.shown
        self._live = self._follower = None
        self._update_bindings()
        if info is None:
            return
        if info.running:
            self._live = (StreamLines(), StreamLines())
            sections = [stream_section(n, s, total=0, running=True)
                        for n, s in zip(STREAMS, self._live, strict=True)]
            self._show_document(LogDocument([*self._command(), *sections]), at="end")
            self._read_live()
        elif info.record is not None:
            self._read_attempt(info, at)
        self._show_status()

    @work(thread=True, exclusive=True, group="log-output")
    def _read_attempt(self, info: AttemptInfo, at: Any) -> None:
        record = info.record
        assert record is not None
        try:
            outputs = attempt_output(self.store, self.job_id, record)
        except Exception as exc:
            self.app.call_from_thread(self._failed, f"cannot read the output: {exc}")
            return
        sections = [
            stream_section(name, StreamLines(out.data), total=out.total, tail_only=out.tail_only)
            for name, out in zip(STREAMS, outputs, strict=True)
        ]
        error = (info.error or "").strip()
        if error and error != f"exit code {info.exit_code}":  # else "exit N" says it all
            lines = StreamLines(error.encode("utf-8", "surrogateescape"))
            sections.append(Section("err", lines.lines, title="── error ──", width=lines.width))
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._attempt_read, info, sections, at)

    def _attempt_read(self, info: AttemptInfo, sections: list[Section], at: Any) -> None:
        if self.is_attached and self.shown is info:
            self._show_document(LogDocument([*self._command(), *sections]), at=at)

    def _command(self) -> list[Section]:
        command = getattr(self.log_task, "command", None)
        if not command:
            return []
        text = "$ " + shlex.join(command).encode("utf-8", "replace").decode("utf-8")
        return [Section("info", [Text(text, style="bold")], width=len(text))]

    def _show_document(self, doc: LogDocument, *, at: Any) -> None:
        self.view.set_document(doc, at=at)
        self.search.content_changed()
        self._show_status()

    def _failed(self, message: str) -> None:
        if self.is_attached:
            self.notify(message, severity="error", title=f"Task #{self.task_id}")

    # ------------------------------------------------------------ following
    def _poll(self) -> None:
        """A few times a second: new output of the running attempt; its end; a new attempt."""
        task = self.log_task
        running = getattr(task.state, "value", task.state) == "running"
        info = self.shown
        if self._live is not None and info is not None:
            if running and task.attempts == info.n:
                self._read_live()
            elif not self._reading:  # it ended: its stored output replaces what was read
                self._live = None
                self._update_bindings()
                self._load_attempts()
        elif running and all(a.n != task.attempts for a in self.attempts):
            self._load_attempts()  # a new attempt started (a retry)
        self._show_status()
        self._update_bindings()  # n / N once the search has hits

    def _read_live(self) -> None:
        if self._reading or self._live is None or self.shown is None:
            return
        engine = self._engine()
        cap = getattr(getattr(engine, "settings", None), "max_output", DEFAULT_MAX_OUTPUT)
        self._reading = True
        self._live_worker(self.shown.n, cap, self._live)

    @work(thread=True, group="log-live")
    def _live_worker(self, n: int, cap: int, live: tuple[StreamLines, StreamLines]) -> None:
        result: tuple[LiveFollower, list[Fed]] | None = None
        try:
            follower = self._follower or LiveFollower(self.store, self.job_id, self.task_id, n,
                                                      cap)
            chunks = follower.read()
            if chunks is not None:
                result = follower, [live[i].prepare(chunks[i]) for i in (0, 1)]
        except Exception:  # file gone, store closed: the next tick tries again
            result = None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._live_read, live, result)

    def _live_read(
        self, live: tuple[StreamLines, StreamLines], result: tuple[LiveFollower, list[Fed]] | None
    ) -> None:
        self._reading = False
        if result is None or live is not self._live or not self.is_attached:
            return
        follower, fed = result
        self._follower = follower
        if not any(f.size for f in fed):
            return
        for lines, f in zip(live, fed, strict=True):
            lines.apply(f)
        for section in self.view.document.sections:
            if section.stream in live:
                i = live.index(section.stream)
                update_stream_section(section, STREAMS[i], total=follower.written[i],
                                      running=True)
        self.view.content_changed(at="follow")
        self.search.content_changed()
        self._show_status()

    # ----------------------------------------------------------------- status
    def _show_status(self) -> None:
        info = self.shown
        parts = [f"Task #{self.task_id} · {self._path}"]
        if info is None:
            second = "not run yet" if not self.attempts else ""
        else:
            deterministic = bool(getattr(self.app, "deterministic", False))
            second = info.describe(len(self.attempts), deterministic)
            error = (info.error or "").strip()
            if error and "\n" not in error and error != f"exit code {info.exit_code}":
                second += f" · {error}"
            if self._live is not None:
                second += "  ● following" if self.view.following else "  ○ paused: f follows"
        parts.append(second)
        text = "\n".join(parts)
        if text != self._status:
            self._status = text
            self.query_one("#log-status", Static).update(Text(text))

    # ---------------------------------------------------------------- actions
    def _update_bindings(self) -> None:
        """Refresh the footer only when a key's availability changed (it rebuilds itself)."""
        state = (bool(self.search.matches), len(self.attempts) > 1, self._live is not None)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "match":
            return True if self.search.matches else None
        if action == "attempt":
            return True if len(self.attempts) > 1 else None
        if action == "follow":
            return True if self._live is not None else None
        return True

    def action_back(self) -> None:
        """Back to the dashboard (with a search open: close the search)."""
        if self.search.is_open:
            self.search.close()
        else:
            self.dismiss()

    def action_search(self) -> None:
        """Find text in the output: Enter keeps the hits, n / N move, Esc closes."""
        self.search.open()

    def action_match(self, delta: int) -> None:
        """Next (n) or previous (N) search hit."""
        self.search.step(delta)
        self._update_bindings()

    def action_attempt(self, delta: int) -> None:
        """Show the next (]) or previous ([) attempt."""
        if self.index is None or len(self.attempts) < 2:
            return
        self.index = max(0, min(len(self.attempts) - 1, self.index + delta))
        self.pinned = self.index != len(self.attempts) - 1
        self._open_attempt(at="top")

    def action_jump(self, kind: str) -> None:
        """Go to the stderr (e) or stdout (o) of the attempt."""
        doc = self.view.document
        section = doc.find(kind)
        if section is not None:
            self.view.scroll_to(y=doc.start_of(section), animate=False, immediate=True)
            self._show_status()

    def action_follow(self) -> None:
        """Go to the end of a running task's output and follow it."""
        self.view.content_changed(at="end")
        self._show_status()
