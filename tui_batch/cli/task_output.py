"""What headless runs print of the tasks themselves: each finished task's output, as one block.

Why a module of its own: the progress reporter (:mod:`.progress`) says how the job goes; this
says what the tasks said, as GNU parallel does by default (``--group``): a task's stdout as one
block on our stdout and its stderr as one block on our stderr, written when it ends, so two
tasks' lines never mix whatever they print and however slowly. Commands write into the job's
log files (never a pipe of ours), so a block is read back whole from there
(:meth:`~tui_batch.store.Store.kept`) and written with one write, byte for byte; a Python
action's output is the text it returned, printed as a line.

Which attempts print: the attempt whose result stands (done, failed, cancelled) prints its
stdout and its stderr; an attempt that is retried prints only its stderr (why it failed is worth
seeing; its partial stdout would land in the data, as ``parallel`` never lets it either); an
attempt stopped by Ctrl-C prints nothing (it runs again on resume, and prints then).
``tui-batch log`` shows every attempt.

Options (:class:`OutputChoice`): ``--keep-order`` holds blocks until every task created before
has printed (tasks that end without running release their place), ``--tag`` puts the task's
relative path and a tab before every line, ``--quiet`` prints none of it, ``--results DIR``
also writes each task's output to files (:mod:`.results`). With ``--json`` nothing raw goes to
stdout: the task events carry the output as text (:func:`json_fields`).

A pipeline (:class:`~tui_batch.jobs.Pipeline`) prints the blocks of every step's tasks, each
step's read from that step's own log files; ``-k`` orders them step by step, each step in input
order (a step's tasks are all made once the previous step's have ended, so none is skipped);
``--results`` files them per step (:mod:`.results`).
"""

from __future__ import annotations

import heapq
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from ..model import ExecKind, TaskState

if TYPE_CHECKING:
    from ..engine import Engine, Task, TaskEvent
    from ..store import Store
    from .results import ResultsDir

__all__ = [
    "Captured", "OutputChoice", "TaskOutput", "attempt_ended", "fmt_size", "json_fields",
    "tag_name",
]

_FINAL = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED,
                    TaskState.INTERRUPTED})
"""States after which a task prints nothing more in this run (it releases its -k place)."""

_PRINTS_ALL = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED})
"""An attempt that ended in these stands: its stdout and its stderr are printed."""


@dataclass(frozen=True, slots=True)
class OutputChoice:
    """How task output is printed: the ``--keep-order``, ``--tag``, ``--quiet`` and
    ``--results`` flags (``results`` is the checked, absolute folder)."""

    keep_order: bool = False
    tag: bool = False
    quiet: bool = False
    results: str | None = None


@dataclass(frozen=True, slots=True)
class Captured:
    """One ended attempt's output as kept: the bytes of each stream and what was written in
    all (more than kept when ``--max-output`` cut it)."""

    stdout: bytes
    stderr: bytes
    out_total: int
    err_total: int

    def cut(self, stream: str) -> int:
        """Bytes of ``stream`` written but not kept."""
        if stream == "stdout":
            return max(0, self.out_total - len(self.stdout))
        return max(0, self.err_total - len(self.stderr))


_EMPTY = Captured(b"", b"", 0, 0)


def attempt_ended(ev: TaskEvent) -> bool:
    """Does this event end an attempt that ran (so it has output to show)? Only those carry
    a duration: a retry (queued again), done, failed, cancelled or interrupted while running;
    not a task skipped or cancelled before it ran, nor one queued again for a shortage."""
    return ev.duration is not None and ev.state is not TaskState.RUNNING


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # a non-UTF-8 name round-trips
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def capture(store: Store | None, job_id: int, task: Task, *, python_action: bool,
            step: int = 0) -> Captured:
    """What the attempt that just ended wrote, read from the job's log (``task.log``, right
    after its event: the bytes are in the file; ``step``: the pipeline step of the task,
    whose own files they are) or, without a log, its tails. A Python action's returned text
    ends with a newline, as ``print`` would write it."""
    ref = task.log
    if ref is None:
        out, err = task.stdout_tail, task.stderr_tail
        if not out and not err:
            return _EMPTY
        o, e = _encode(out), _encode(err)
        if python_action and o and not o.endswith(b"\n"):
            o += b"\n"
        return Captured(o, e, len(o), len(e))
    if store is None:  # no log to read: the tails are all there is
        o, e = _encode(task.stdout_tail), _encode(task.stderr_tail)
        return Captured(o, e, ref.out_total, ref.err_total)
    streams = [store.kept(job_id, ref, "stdout", task.stdout_tail, step=step).data,
               store.kept(job_id, ref, "stderr", task.stderr_tail, step=step).data]
    return Captured(streams[0], streams[1], ref.out_total, ref.err_total)


def shown_path(path: str) -> str:
    """A path for a message: undecodable bytes as \\xNN, control characters escaped (as
    the progress lines show it)."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = text.encode("unicode_escape").decode("ascii")
    return text


def fmt_size(n: int) -> str:
    """``10 MiB``, ``1.5 KiB``, ``500 bytes``: a cap as a person wrote it."""
    for unit, name in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= unit:
            return f"{n / unit:.4g} {name}"
    return f"{n} byte" if n == 1 else f"{n} bytes"


def cut_line(shown: str, cap: int, cap_cut: Captured) -> bytes:
    """``tui-batch: PATH: output cut at 10 MiB (N bytes of stdout not kept)``, or b""."""
    parts = [f"{n} bytes of {s} not kept" for s in ("stdout", "stderr")
             if (n := cap_cut.cut(s))]
    if not parts:
        return b""
    at = fmt_size(cap)
    if cap == 0:
        at += ", only the last lines kept"
    return _encode(f"tui-batch: {shown}: output cut at {at} ({' and '.join(parts)})\n")


def json_fields(cap: Captured) -> dict[str, Any]:
    """The output fields of a JSON task event: ``stdout`` and ``stderr`` as text (bytes that
    are not UTF-8 backslash-escaped, and ``stdout_binary``/``stderr_binary`` set); when the
    cap cut a stream, ``stdout_bytes`` (what the command wrote) and ``stdout_cut`` (what was
    not kept) too. Only then: most tasks print little or nothing, and 100,000 events must not
    carry six fields each to say so."""
    obj: dict[str, Any] = {}
    for stream, data, total in (("stdout", cap.stdout, cap.out_total),
                                ("stderr", cap.stderr, cap.err_total)):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "backslashreplace")
            obj[f"{stream}_binary"] = True
        obj[stream] = text
        cut = cap.cut(stream)
        if cut:
            obj[f"{stream}_bytes"] = total
            obj[f"{stream}_cut"] = cut
    return obj


def tag_name(task: Task, multi_root: bool) -> str:
    """The name ``--tag`` and ``--results`` give a task: its path relative to its root (under
    the root's name when the job has several roots, as ``--out`` mirrors them)."""
    rel = task.rel or os.path.basename(task.path) or task.path
    if multi_root and task.root:
        base = os.path.basename(os.path.normpath(os.path.abspath(task.root))) or "root"
        return os.path.join(base, rel)
    return rel


def _tagged(prefix: bytes, data: bytes) -> bytes:
    lines = data.split(b"\n")
    last = lines.pop()
    body = b"".join(prefix + line + b"\n" for line in lines)
    return body + prefix + last if last else body


class TaskOutput:
    """Prints the blocks of ended attempts (see the module doc). The reporter calls
    :meth:`on_task` with every task event and :meth:`close` at the end, and sets
    ``before_block`` / ``after_block`` to clear its progress bar before a block and draw it
    again after, so output scrolls above the bar."""

    def __init__(
        self, engine: Engine, store: Store | None, job_id: int, choice: OutputChoice, *,
        raw: bool = True, multi_root: bool = False, results: ResultsDir | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.job_id = job_id
        self.choice = choice
        self.prints = raw and not choice.quiet
        """Blocks go to stdout/stderr (not with --json, nor --quiet)."""
        self.wants_json = not raw and not choice.quiet
        """The JSON task events carry the output."""
        self.results = results
        self.multi_root = multi_root
        self.python_action = engine.action.kind is not ExecKind.SUBPROCESS
        from ..jobs.pipeline import Pipeline  # loaded already: the reporter uses it

        self._pipeline = engine if isinstance(engine, Pipeline) else None
        self._python_steps = ([a.kind is not ExecKind.SUBPROCESS for a in self._pipeline.actions]
                              if self._pipeline is not None else [])
        self._origins: dict[int, str] | None = None  # a pipeline file's --results name by seq
        self.cap = engine.settings.max_output
        self.before_block: Callable[[], None] = _nothing
        self.after_block: Callable[[], None] = _nothing
        self.on_broken: Callable[[], None] = _nothing
        """stdout was closed (``| head``): what to do about the run (stop it)."""
        self._out: BinaryIO | None = sys.stdout.buffer
        self._err: BinaryIO = sys.stderr.buffer
        self._tty = {id(self._out): _isatty(self._out), id(self._err): _isatty(self._err)}
        self._keep = choice.keep_order and self.prints
        self._pending: list[Any] = []  # -k: keys (:meth:`_key`) not final yet (a heap)
        self._known: set[Any] = set()
        self._final: set[Any] = set()
        self._held: dict[Any, list[tuple[bytes, bytes]]] = {}
        if self._keep:
            for t in engine.tasks.values():
                if t.state not in _FINAL:
                    self.expect(t.id)

    @property
    def active(self) -> bool:
        """Anything to do with output at all (else :meth:`on_task` is never needed)."""
        return self.prints or self.wants_json or self.results is not None

    def expect(self, task_id: int) -> None:
        """-k: a task that will end later in this run (a watch's new task)."""
        if self._keep:
            self._expect_key(self._key(task_id))

    def _expect_key(self, key: Any) -> None:
        if key not in self._known:
            self._known.add(key)
            heapq.heappush(self._pending, key)

    def _key(self, task_id: int) -> Any:
        """-k's order: the task id (input order); in a pipeline (step, seq), one task per
        file and step, so each step prints in input order once the steps before it have."""
        if self._pipeline is None:
            return task_id
        task = self._pipeline.tasks.get(task_id)
        return (self._pipeline.step_of(task_id) or 0, task.seq if task else 0)

    def _step(self, task_id: int) -> int:
        return 0 if self._pipeline is None else self._pipeline.step_of(task_id) or 0

    def _origin(self, task: Task, step: int) -> str:
        """The ``--results`` name of a pipeline task's file: its first-step task's (known
        from the start, or seen since: a watch's new files)."""
        assert self._pipeline is not None
        if self._origins is None:
            self._origins = {t.seq: tag_name(t, self.multi_root)
                             for t in self._pipeline.engines[0].tasks.values()}
        if step == 0:
            self._origins[task.seq] = tag_name(task, self.multi_root)
        return self._origins.get(task.seq) or tag_name(task, False)

    def on_task(self, ev: TaskEvent, task: Task) -> Captured | None:
        """A task event: print, keep or file the output of the attempt it ended. Returns the
        captured output (for the JSON event) or None when the event ended no attempt."""
        if not self._keep:
            if ev.duration is None:  # the hot path: most events end no attempt (running)
                return None
        elif ev.state not in _FINAL:
            self.expect(ev.task_id)
        if not attempt_ended(ev):
            if self._keep and ev.state in _FINAL:
                self._release(self._key(ev.task_id))
            return None
        step = self._step(ev.task_id)
        if (self._keep and self._pipeline is not None and ev.state is TaskState.DONE
                and step < len(self._pipeline.steps) - 1):
            # its next step's task is made right after this event: its place is kept now,
            # so a later file's next step cannot print before it
            self._expect_key((step + 1, task.seq))
        python = self._python_steps[step] if self._python_steps else self.python_action
        cap = capture(self.store, self.job_id, task, python_action=python, step=step)
        if self.results is not None and ev.state in _PRINTS_ALL:
            if self._pipeline is None:
                self.results.write(task, cap, self.multi_root)
            else:
                self.results.write(task, cap, self.multi_root, step=step,
                                   name=self._origin(task, step))
        if self.prints:
            self._print(ev, task, cap)
        return cap

    def _print(self, ev: TaskEvent, task: Task, cap: Captured) -> None:
        state = ev.state
        out = err = note = b""
        if state in _PRINTS_ALL:
            out, err, seen = cap.stdout, cap.stderr, cap
        elif state is TaskState.QUEUED:  # retried: why it failed, not its partial data
            err, seen = cap.stderr, Captured(b"", cap.stderr, 0, cap.err_total)
        else:  # stopped by Ctrl-C: runs again on resume, and prints then
            seen = _EMPTY
        if seen is not _EMPTY:
            note = cut_line(shown_path(task.path), self.cap, seen)
        if self.choice.tag and (out or err):
            prefix = os.fsencode(tag_name(task, self.multi_root)) + b"\t"
            out, err = _tagged(prefix, out), _tagged(prefix, err)
        err += note
        if not self._keep:
            self._write(out, err)
            return
        key = self._key(ev.task_id)
        if out or err:
            self._held.setdefault(key, []).append((out, err))
        if state in _FINAL:
            self._release(key)

    def _release(self, key: Any) -> None:
        if key not in self._known:  # never waited for (it ended as it appeared): no place
            for out, err in self._held.pop(key, ()):
                self._write(out, err)
            return
        self._final.add(key)
        pending = self._pending
        while pending and pending[0] in self._final:
            tid = heapq.heappop(pending)
            self._final.discard(tid)
            self._known.discard(tid)
            for out, err in self._held.pop(tid, ()):
                self._write(out, err)

    def _write(self, out: bytes, err: bytes) -> None:
        if not out and not err:
            return
        self.before_block()
        try:
            if out and self._out is not None:
                self._emit(self._out, out, is_stdout=True)
            if err:
                sys.stderr.flush()  # the text layer first: messages and blocks keep their order
                self._emit(self._err, err, is_stdout=False)
        finally:
            self.after_block()

    def _emit(self, stream: BinaryIO, data: bytes, *, is_stdout: bool) -> None:
        try:
            stream.write(data)
            if not data.endswith(b"\n") and self._tty.get(id(stream)):
                stream.write(b"\n")  # a terminal only: the bar drawn next must not overwrite it
            stream.flush()
        except BrokenPipeError:
            if not is_stdout:
                return
            self._out = None
            # what is left for fd 1 (Python's own flush at exit) goes nowhere, silently
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
            self.on_broken()

    def close(self) -> None:
        """The run is over: print what -k still holds (tasks left unfinished keep no place)."""
        for tid in sorted(self._held):
            for out, err in self._held.pop(tid):
                self._write(out, err)
        self._pending.clear()
        self._known.clear()
        self._final.clear()


def _nothing() -> None:
    pass


def _isatty(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False
