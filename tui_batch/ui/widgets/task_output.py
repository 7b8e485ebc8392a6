"""A task's output as the log views show it: every attempt's, and a running attempt's so far.

Why a module of its own, free of widgets: the dashboard's log pane and the full-screen log
read the same things the same way. A finished attempt's output is the store's
(:meth:`~tui_batch.store.Store.output`: the whole kept output, or the 4 KiB tail when that is
all there is). A running attempt's is read from its slot's files, where the command writes it
(:class:`LiveFollower`), and only the bytes added since the last read. Every read here may
touch 10 MiB: callers run them in a thread, never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...store.logs import LiveAttempt, Output
from ..format import size
from .log_lines import Section, StreamLines

if TYPE_CHECKING:
    from ...store import Store
    from ...store.records import AttemptRecord

__all__ = [
    "STREAMS",
    "AttemptInfo",
    "LiveFollower",
    "StreamOutput",
    "attempt_infos",
    "attempt_output",
    "attempt_state",
    "stream_section",
]

STREAMS = ("stdout", "stderr")


StreamOutput = Output
"""One stream of one attempt as kept (the store's :class:`~tui_batch.store.logs.Output`)."""


def attempt_output(store: Store, job_id: int, record: AttemptRecord) -> list[StreamOutput]:
    """stdout and stderr of a finished attempt, as kept (reads files: call it in a thread).
    A pipeline step's task keeps its output in its step's own files: the store finds them
    from the task's step."""
    step = store.task_step(record.task_id) or 0
    return [store.output(job_id, record, name, step=step) for name in STREAMS]


class LiveFollower:
    """Reads what one running attempt adds to its stdout and stderr, from its slot's files.

    Each :meth:`read` returns only the new bytes, at most ``cap`` per stream in all (what the
    attempt will keep). The slot's live record is checked after reading: once the attempt has
    ended and the slot runs another, what was read belongs to that one and is dropped."""

    def __init__(self, store: Store, job_id: int, task_id: int, attempt: int, cap: int) -> None:
        self.store = store
        self.job_id = job_id
        self.task_id = task_id
        self.attempt = attempt
        """The attempt followed (its number)."""
        self.cap = cap
        """Bytes kept per stream (``--max-output``)."""
        self.read_bytes = [0, 0]
        """Bytes of stdout and stderr read so far."""
        self.written = [0, 0]
        """Bytes of stdout and stderr the command wrote so far (more than read when cut)."""
        self.step: int | None = None
        """The task's pipeline step (0-based), once its live record was found (each step
        has its own slot files; until then every step's records are looked in)."""

    def read(self) -> tuple[bytes, bytes] | None:
        """New bytes of (stdout, stderr); None when the attempt's slot is not known (yet)."""
        live = self.store.live_attempt(self.job_id, self.task_id, self.attempt, step=self.step)
        if live is None:
            return None
        self.step = live.step
        chunks: list[bytes] = []
        written = []
        for i, stream in enumerate(("stdout", "stderr")):
            chunk, wrote = self.store.follow_range(self.job_id, live, stream, self.read_bytes[i],
                                                   self.cap - self.read_bytes[i])
            chunks.append(chunk)
            written.append(wrote)
        again = self.store.live_attempt(self.job_id, self.task_id, self.attempt, step=live.step)
        if not _same(again, live):
            return None
        for i, chunk in enumerate(chunks):
            self.read_bytes[i] += len(chunk)
            self.written[i] = max(self.written[i], written[i])
        return chunks[0], chunks[1]


def _same(a: LiveAttempt | None, b: LiveAttempt) -> bool:
    return a is not None and ((a.step, a.slot, a.out_off, a.err_off)
                              == (b.step, b.slot, b.out_off, b.err_off))


# ------------------------------------------------------------------- attempts
def attempt_state(record: AttemptRecord) -> str:
    """An attempt's state as said to the user (a stored "queued" that ended was retried)."""
    state = record.state
    if state in ("queued", "interrupted") and record.ended_at is not None:
        return "failed, retried" if record.error or record.exit_code else "retried"
    return state


@dataclass(slots=True)
class AttemptInfo:
    """One attempt of a task, stored or running now."""

    n: int
    """Its number (1-based, as the store counts)."""
    state: str
    """``done``, ``failed``, ``running``, ``failed, retried``..."""
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    record: AttemptRecord | None = None
    """The stored row (None: the attempt runs and the store has not its row yet)."""

    @property
    def running(self) -> bool:
        """The attempt runs now (its output is read from its slot's files)."""
        return self.state == "running"

    def describe(self, total: int, deterministic: bool = False) -> str:
        """``attempt 2 of 3 · failed · exit 1 · 0.4s``."""
        parts = [f"attempt {self.n} of {total}", self.state]
        if self.exit_code is not None:
            parts.append(f"exit {self.exit_code}")
        if self.signal:
            parts.append(f"signal {self.signal}")
        if self.started_at is not None and self.ended_at is not None:
            seconds = max(0.0, self.ended_at - self.started_at)
            # a measured time differs per run (snapshots): shown as the demo's usual one
            parts.append("<0.1s" if seconds < 0.1 or deterministic else f"{seconds:.1f}s")
        return " · ".join(parts)


def attempt_infos(records: list[AttemptRecord], task: Any) -> list[AttemptInfo]:
    """The attempts of ``task`` (an engine Task, or None): the stored ones, with the one the
    engine runs now said to be running (the store may not have its row yet)."""
    infos = [
        AttemptInfo(r.n, attempt_state(r), r.exit_code, r.signal, r.error, r.started_at,
                    r.ended_at, r)
        for r in records
    ]
    if task is not None and getattr(task.state, "value", task.state) == "running":
        n = task.attempts
        info = next((i for i in infos if i.n == n), None)
        if info is None:
            infos.append(AttemptInfo(n, "running", started_at=task.started_at))
        else:
            info.state, info.ended_at = "running", None
    return infos


# ------------------------------------------------------------------- sections
def stream_section(
    name: str, lines: StreamLines, *, total: int, tail_only: bool = False,
    running: bool = False, kind: str | None = None,
) -> Section:
    """A stream's rows: its title (lines, size), its lines and where it was cut."""
    section = Section(kind or ("err" if name == "stderr" else "out"), lines.lines, stream=lines)
    update_stream_section(section, name, total=total, tail_only=tail_only, running=running)
    return section


def update_stream_section(
    section: Section, name: str, *, total: int, tail_only: bool = False, running: bool = False
) -> None:
    """Say again what the section's stream holds (it grew, or its attempt ended)."""
    lines = section.stream or StreamLines()
    kept = lines.size
    n = len(lines.lines)
    what = "no output" if not kept and not total else f"{n:,} line{'s' * (n != 1)}, {size(kept)}"
    section.title = f"── {name} · {what}{' · running' if running else ''} ──"
    cut = max(0, total - kept)
    section.lead = section.note = None
    if cut and tail_only:
        section.lead = f"… only the last {size(kept)} were kept: {cut:,} bytes before not kept"
    elif cut:
        section.note = (
            f"… output cut at {size(kept)}: {cut:,} bytes not kept"
            + (" (so far)" if running else "")
        )
