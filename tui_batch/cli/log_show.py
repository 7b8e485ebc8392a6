"""How `tui-batch log` shows one attempt's output: raw bytes, a header, notes, or JSON.

Why a module of its own: the plain listing (:mod:`.log`), following a running job
(:mod:`.log_follow`) and the failures of `jobs JOB` (:mod:`.job_detail`) must read an attempt
and word its state the same way. The contract: a task's stdout goes to our stdout and its
stderr to our stderr, byte for byte, so ``tui-batch log 3 > out.txt`` is exactly what the
command printed; everything we add (headers, "output cut", "still running") is a line on
stderr starting with ``==`` or ``tui-batch:``.
"""

from __future__ import annotations

import signal as _signal
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..store import AttemptRecord, Store, TaskRecord
from ..store.logs import Output
from .progress import display_path

__all__ = [
    "Shown", "Writer", "attempt_label", "json_object", "last_line", "read_attempt",
    "step_words", "text_field",
]


@dataclass(frozen=True, slots=True)
class Shown:
    """One attempt of one task, with its two streams as kept (``running``: read while it
    runs, so far)."""

    task: TaskRecord
    attempt: AttemptRecord
    out: Output
    err: Output
    running: bool = False

    @property
    def printed(self) -> bool:
        """The attempt wrote something (on either stream)."""
        return bool(self.out.total or self.err.total or self.out.data or self.err.data)


def _signal_name(sig: int) -> str:
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def attempt_label(a: AttemptRecord) -> str:
    """An attempt's outcome in a few words: ``done``, ``failed, exit 1``, ``failed, SIGKILL,
    retried``, ``running``. An attempt row holds the state its task took after it, so a
    failure that was retried reads 'queued' there."""
    state = a.state
    retried = state == "queued"
    why = ""
    if a.exit_code not in (None, 0):
        why = f"exit {a.exit_code}"
    elif a.signal is not None:
        why = _signal_name(a.signal)
    elif a.error and state in ("failed", "queued"):
        why = a.error.splitlines()[0][:80] if a.error.strip() else ""
    if retried:
        state = "failed" if why else "stopped"
    parts = [state, *([why] if why and state != "done" else [])]
    if retried:
        parts.append("retried" if state == "failed" else "queued again")
    return ", ".join(parts)


def _live(store: Store, job_id: int, task: TaskRecord, a: AttemptRecord, cap: int,
          stream: str) -> Output | None:
    """What a running (or killed while running) attempt wrote so far, from its slot's live
    record; None if no record names it any more."""
    live = store.live_attempt(job_id, task.id, a.n, step=task.step)
    if live is None:
        return None
    data = store.follow_bytes(job_id, live, stream, 0)
    # read first, then check the record still names it: the slot may have moved on meanwhile
    if store.live_attempt(job_id, task.id, a.n, step=task.step) != live:
        return None
    return Output(data[:cap], len(data))


def read_attempt(store: Store, job_id: int, task: TaskRecord, a: AttemptRecord,
                 cap: int, *, python_action: bool = False) -> Shown:
    """An attempt's output as kept; for one that has not ended (running, or left running by
    a killed process) what its slot's files hold so far. A Python action's "output" is the
    text it returned: shown as a line, as the run printed it."""
    if a.log is None and a.state in ("running", "interrupted"):
        out = _live(store, job_id, task, a, cap, "stdout")
        err = _live(store, job_id, task, a, cap, "stderr")
        if out is not None and err is not None:
            return Shown(task, a, out, err, running=a.state == "running")
    out = store.output(job_id, a, "stdout", step=task.step)
    if python_action and a.log is None and out.data and not out.data.endswith(b"\n"):
        out = Output(out.data + b"\n", out.total + 1)
    err = store.output(job_id, a, "stderr", step=task.step)
    return Shown(task, a, out, err, running=a.state == "running")


def step_words(step: int, label: str) -> str:
    """``step 2 [gzip -9 {}]``: a pipeline step (0-based ``step``) as a header says it, the
    action shortened to one line of at most 40 characters."""
    text = " ".join(label.split())
    if len(text) > 40:
        text = text[:39] + "…"
    return f"step {step + 1} [{text}]"


def text_field(data: bytes) -> tuple[str, bool]:
    """Output as JSON text: UTF-8 decoded, other bytes escaped as ``\\xNN``; and whether
    any had to be (``*_binary``: then the text is not the bytes verbatim)."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "backslashreplace"), True


def json_object(job_id: int, s: Shown) -> dict[str, Any]:
    """One attempt as a JSON object (``tui-batch log --json``)."""
    a, t = s.attempt, s.task
    obj: dict[str, Any] = {
        "job": job_id, "task": t.id, "path": t.path, "rel": t.rel, "attempt": a.n,
        "attempts": t.attempts, "state": attempt_label(a).split(",")[0],
        "retried": a.state == "queued", "task_state": t.state, "exit_code": a.exit_code,
        "signal": a.signal, "error": a.error, "started_at": a.started_at,
        "ended_at": a.ended_at, "running": s.running,
    }
    for name, o in (("stdout", s.out), ("stderr", s.err)):
        text, binary = text_field(o.data)
        obj[name] = text
        obj[f"{name}_binary"] = binary  # as the run's --json task events name it
        obj[f"{name}_bytes"] = o.total
        obj[f"{name}_cut"] = o.cut
        obj[f"{name}_tail_only"] = o.tail_only
    return obj


def last_line(text: str | None) -> str | None:
    """The last line with something on it (a failure's most telling line of stderr)."""
    for line in reversed((text or "").splitlines()):
        if line.strip():
            return line.strip()
    return None


def _bytes_word(n: int) -> str:
    return f"{n:,} byte{'s' if n != 1 else ''}"


class Writer:
    """Writes attempts to our stdout / stderr in order: each stream flushed before the
    other is written, so on a terminal a header stays above its block."""

    def __init__(self, out: BinaryIO | None = None, err: BinaryIO | None = None) -> None:
        self.out = out or sys.stdout.buffer
        self.err = err or sys.stderr.buffer
        self.out_tty = sys.stdout.isatty() if out is None else False
        self.err_tty = sys.stderr.isatty() if err is None else False
        self._open: dict[str, bool] = {}  # a stream's last line has no newline yet

    def note(self, line: str) -> None:
        """One line of ours on stderr."""
        self.end_line("stdout")
        self.end_line("stderr")
        self.out.flush()
        self.err.write(line.encode("utf-8", "backslashreplace") + b"\n")
        self.err.flush()

    def header(self, s: Shown, *, with_attempt: bool, step: str | None = None) -> None:
        """``== task 12 attempt 2 (failed, exit 1): sub/a.txt ==``; a pipeline's task
        says its step and the step's action (``step``: :func:`step_words`)."""
        a = s.attempt
        n = f" attempt {a.n}" if with_attempt or a.n > 1 else ""
        where = f" {step}" if step else ""
        line = (f"== task {s.task.id}{where}{n} ({attempt_label(a)}):"
                f" {display_path(s.task.path)} ==")
        if self.err_tty:
            line = f"\x1b[1m{line}\x1b[0m"
        self.note(line)

    def data(self, stream: str, data: bytes, *, end: bool = True) -> None:
        """Bytes of a task's stream, as they are. ``end``: the block is complete; on a
        terminal a last line without its newline then gets one, so our next line does not
        start in the middle of it (a followed attempt writes pieces: ``end=False``)."""
        if data:
            if stream == "stdout":
                self.err.flush()
                fh = self.out
            else:
                self.out.flush()
                fh = self.err
            fh.write(data)
            fh.flush()
            self._open[stream] = not data.endswith(b"\n")
        if end:
            self.end_line(stream)

    def end_line(self, stream: str) -> None:
        """On a terminal, end the stream's last line if a block left it open."""
        tty = self.out_tty if stream == "stdout" else self.err_tty
        if self._open.get(stream) and tty:
            fh = self.out if stream == "stdout" else self.err
            fh.write(b"\n")
            fh.flush()
        self._open[stream] = False

    def notes(self, s: Shown, cap: int, job_id: int) -> None:
        """Say what was not kept, and that a running attempt is not over."""
        who = f"task {s.task.id}" + (f" attempt {s.attempt.n}" if s.attempt.n > 1 else "")
        for name, o in (("stdout", s.out), ("stderr", s.err)):
            if o.tail_only and o.cut:
                self.note(f"tui-batch: {who} {name}: only the last {_bytes_word(len(o.data))}"
                          f" were kept ({_bytes_word(o.cut)} of {_bytes_word(o.total)} not"
                          " kept)")
            elif o.cut:
                self.note(f"tui-batch: {who} {name}: output cut at {_bytes_word(len(o.data))}"
                          f" ({_bytes_word(o.cut)} not kept; --max-output {cap:,})")
        if s.running:
            self.note(f"tui-batch: {who} is still running (tui-batch log -f {job_id}"
                      f" {s.task.id} follows it)")

    def show(self, s: Shown, cap: int, job_id: int) -> None:
        """An attempt's stdout, then its stderr, then our notes about it."""
        self.data("stdout", s.out.data)
        self.data("stderr", s.err.data)
        self.notes(s, cap, job_id)
