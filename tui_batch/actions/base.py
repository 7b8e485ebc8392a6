"""What every action shares: the per-task context and the :class:`Action` base class.

An action is described by data the engine and the UIs need before anything runs (its kind picks
the executor, ``needs_out`` and ``options`` let the CLI and the TUI refuse bad input up front,
``out_path_for`` lets the preview find collisions), plus the code that runs per file, which
depends on the kind: :class:`~tui_batch.actions.template.CommandAction` prepares an argv,
:class:`~tui_batch.actions.python.PythonAction` wraps a function.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from ..errors import InputError, TuiBatchError
from ..model import ActionSpec, EngineSettings, ExecKind, FileEntry
from .output import mirror_path

__all__ = ["Action", "ActionError", "TaskContext", "TaskSkipped", "make_context"]


class ActionError(TuiBatchError):
    """An expected task failure: the message is all the user needs (no traceback).

    One positional message only, so it pickles back from a process-pool worker.
    """


class TaskSkipped(ActionError):
    """Raise it to end the task as *skipped* rather than done or failed, with the message as
    the reason the user sees (``copy`` with ``conflict=skip``: "target exists: ...").

    Nothing is retried, the job does not count it as a failure, and ``resume`` leaves it alone.
    """


@dataclass(slots=True)
class TaskContext:
    """Everything an action gets for one attempt on one file.

    ``path`` is what the scanner found (root joined with ``rel``); ``out_path`` is the final
    output path the action writes, as given by :meth:`Action.out_path_for` (``None`` without
    ``--out``). Paths may carry surrogate escapes: pass them to the OS as they are. The order of
    the fields is the engine's positional constructor call; keep it.

    Cancellation: ``cancelled`` turns true when the engine gives up on this attempt (its
    ``--timeout`` ran out, the user cancelled it, Ctrl-C). A thread cannot be killed, so a
    long-running thread (``kind="io"``) action should check ``ctx.cancelled`` between steps, or
    wait on ``ctx.cancel_event`` instead of sleeping, and return soon after it is set: the
    engine waits up to the kill grace for it, then leaves the thread behind (it never blocks the
    process at exit). ``async`` actions are cancelled the asyncio way (``CancelledError``), and
    process-pool (``kind="cpu"``) actions by ending their worker process; for both
    ``cancelled`` stays false.
    """

    path: str
    root: str
    rel: str
    size: int = 0
    mtime_ns: int = 0
    out_dir: str | None = None
    out_path: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    task_id: int = 0
    attempt: int = 1
    job_id: int = 0
    """The job the task belongs to (0: a bare engine, no job). ``TUI_BATCH_JOB_ID`` for
    commands."""
    seq: int = 0
    """The task's number in its job, 1-based, in scan order and stable across ``resume``
    (``{#}`` in templates; 0 when the engine runs without a job)."""
    slot: int = 0
    """The worker slot running this attempt, 1..N for N workers (``{%}`` in templates; a
    free slot is reused, lowest first, as GNU parallel does; 0 outside the engine)."""
    cancel_event: threading.Event | None = field(default=None, repr=False, compare=False)
    """Set by the engine when it gives up on the attempt (thread actions only; else None)."""

    @property
    def cancelled(self) -> bool:
        """True once the engine gave up on this attempt (timeout, cancel, Ctrl-C)."""
        event = self.cancel_event
        return event is not None and event.is_set()


class Action:
    """Base of every action. Subclasses set the attributes (as class attributes or through
    ``__init__``) and implement what their kind needs.

    ``writes_output``: the action writes the file named by :meth:`out_path_for` when ``--out``
    is given (defaults to ``needs_out``). ``out_suffix`` is appended to the mirrored name
    (``gzip`` -> ``.gz``); ``out_ext`` first replaces the input's extension (``extract-text``:
    ``a.pdf`` -> ``a.txt``). ``accepts_any_option`` turns off the unknown ``--opt`` check for
    functions that did not declare their options.

    The engine and the preview read the rest of the declaration: ``default_workers`` (used when
    the user gives no ``-j``; ``None`` = one per CPU), ``repeat_safe`` (running it twice on a
    file gives the same result: a task that was running at a kill may simply run again; an
    action that is not, such as ``move``, must make its own steps safe to redo) and
    ``dedupe_default`` (whether duplicate inputs are skipped unless the user says otherwise;
    ``None``: the rule of :func:`~.notes.default_dedupe`).
    """

    name: str = ""
    kind: ExecKind = ExecKind.THREAD
    description: str = ""
    needs_out: bool = False
    options: dict[str, str] = {}
    writes_output: bool = False
    out_suffix: str = ""
    out_ext: str = ""
    accepts_any_option: bool = False
    default_workers: int | None = None
    repeat_safe: bool = True
    dedupe_default: bool | None = None

    def __init__(
        self,
        name: str | None = None,
        kind: ExecKind | str | None = None,
        description: str | None = None,
        needs_out: bool | None = None,
        options: dict[str, str] | None = None,
        *,
        writes_output: bool | None = None,
        out_suffix: str | None = None,
        accepts_any_option: bool | None = None,
        out_ext: str | None = None,
        default_workers: int | None = None,
        repeat_safe: bool | None = None,
        dedupe_default: bool | None = None,
    ) -> None:
        # Arguments left None keep the class attributes, so a plugin can declare an action as
        # a subclass with class attributes and a ``func`` method, and be instantiated bare.
        cls = type(self)
        self.name = cls.name if name is None else name
        self.kind = ExecKind(cls.kind if kind is None else kind)
        self.description = cls.description if description is None else description
        self.needs_out = cls.needs_out if needs_out is None else needs_out
        self.options = dict(cls.options if options is None else options)
        if writes_output is None:
            writes_output = cls.writes_output or self.needs_out
        self.writes_output = writes_output
        self.out_suffix = cls.out_suffix if out_suffix is None else out_suffix
        self.accepts_any_option = (
            cls.accepts_any_option if accepts_any_option is None else accepts_any_option
        )
        self.out_ext = cls.out_ext if out_ext is None else out_ext
        if self.out_ext and not self.out_ext.startswith("."):
            raise ValueError(f"action {self.name!r}: out_ext must start with '.', got "
                             f"{self.out_ext!r}")
        self.default_workers = cls.default_workers if default_workers is None else default_workers
        self.repeat_safe = cls.repeat_safe if repeat_safe is None else repeat_safe
        self.dedupe_default = cls.dedupe_default if dedupe_default is None else dedupe_default

    @property
    def ref(self) -> str:
        """What a process-pool worker resolves to find this action again (its name)."""
        return self.name

    def check(self, spec: ActionSpec, settings: EngineSettings) -> None:
        """Refuse a job this action cannot run, before any task starts (CLI exit 2, TUI inline).

        Checks ``--out`` when needed, unknown ``--opt`` keys, then :meth:`check_options`.
        """
        if self.needs_out and not settings.out_dir:
            raise InputError("--out", f"action {self.name!r} writes files: give --out DIR")
        if settings.out_dir and self.writes_output:
            out = settings.out_dir
            if os.path.exists(out) and not os.path.isdir(out):
                raise InputError("--out", f"{out!r} exists and is not a folder")
        if not self.accepts_any_option:
            for key in spec.options:
                if key not in self.options:
                    known = ", ".join(sorted(self.options))
                    hint = f"known: {known}" if known else "it takes no options"
                    raise InputError(
                        "--opt", f"unknown option {key!r} for action {self.name!r}; {hint}"
                    )
        self.check_options(spec.options)

    def check_options(self, options: dict[str, str]) -> None:
        """Validate option values (raise ``InputError('--opt', ...)``); nothing by default."""

    def out_path_for(
        self, out_dir: str | None, root: str, rel: str, multi_root: bool
    ) -> str | None:
        """The file this action will write for an input, or ``None`` if it writes none.

        The engine passes the result as ``TaskContext.out_path``; the preview uses it to find two
        inputs aiming at one output, or an output landing on an input.
        """
        if not out_dir or not self.writes_output:
            return None
        return self.output_name(mirror_path(out_dir, root, rel, multi_root))

    def output_name(self, path: str) -> str:
        """The name this action gives what it writes for ``path``: the extension replaced by
        ``out_ext`` (``report.pdf`` -> ``report.txt``; a name without one gains it), then
        ``out_suffix`` appended (``report.txt`` -> ``report.txt.gz``)."""
        if self.out_ext:
            path = os.path.splitext(path)[0] + self.out_ext
        return path + self.out_suffix

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} kind={self.kind.value}>"


def make_context(
    action: Action,
    entry: FileEntry,
    *,
    out_dir: str | None = None,
    multi_root: bool = False,
    options: dict[str, str] | None = None,
    task_id: int = 0,
    attempt: int = 1,
    job_id: int = 0,
    seq: int = 0,
    slot: int = 0,
) -> TaskContext:
    """Build a context the way the engine does, so tests and the API cannot drift from it."""
    return TaskContext(
        entry.path,
        entry.root,
        entry.rel,
        entry.size,
        entry.mtime_ns,
        out_dir,
        action.out_path_for(out_dir, entry.root, entry.rel, multi_root),
        dict(options or {}),
        task_id,
        attempt,
        job_id,
        seq,
        slot,
    )
