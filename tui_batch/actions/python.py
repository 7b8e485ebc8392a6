"""Python functions as actions: ``--action mymod:func``, plugins, and the built-ins.

A function takes a :class:`~tui_batch.actions.base.TaskContext` and returns ``str | None`` (shown
as the task's output); raising fails the task with the exception's text. It says how it wants to
run with :func:`action`; undecorated, an ``async def`` runs on the event loop and anything else
on the thread pool, which is right for I/O-bound code and never wrong (only slower) for the rest.

The engine calls ``action.func(ctx)`` directly (threads) or awaits it (async), and sends
``action.name`` to :func:`~tui_batch.actions.registry.run_in_process` for the process pool.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ..errors import InputError
from ..model import ExecKind
from .base import Action, TaskContext

__all__ = ["ActionMeta", "PythonAction", "action", "parse_kind"]

F = TypeVar("F", bound=Callable[..., Any])

META_ATTR = "__tui_batch_action__"

_KINDS = {
    "cpu": ExecKind.PROCESS,
    "process": ExecKind.PROCESS,
    "io": ExecKind.THREAD,
    "thread": ExecKind.THREAD,
    "async": ExecKind.ASYNC,
}


def parse_kind(kind: str | ExecKind) -> ExecKind:
    """``'cpu'``/``'io'``/``'async'`` (what a plugin author thinks in) or an ExecKind value."""
    if isinstance(kind, ExecKind):
        if kind is ExecKind.SUBPROCESS:
            raise ValueError("a Python action cannot be of kind 'subprocess'")
        return kind
    try:
        return _KINDS[str(kind).lower()]
    except KeyError:
        raise ValueError(f"unknown action kind {kind!r}; use 'cpu', 'io' or 'async'") from None


@dataclass(frozen=True, slots=True)
class ActionMeta:
    """What :func:`action` attached to a function."""

    kind: ExecKind | None = None
    needs_out: bool = False
    options: dict[str, str] | None = None
    description: str | None = None
    name: str | None = None
    validate: Callable[[dict[str, str]], None] | None = None
    out_suffix: str = ""
    writes_output: bool | None = None
    out_ext: str = ""
    default_workers: int | None = None
    repeat_safe: bool = True


def _is_async(func: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


@overload
def action(func: F, /) -> F: ...


@overload
def action(
    *,
    kind: str | ExecKind | None = None,
    needs_out: bool = False,
    options: dict[str, str] | None = None,
    description: str | None = None,
    name: str | None = None,
    validate: Callable[[dict[str, str]], None] | None = None,
    out_suffix: str = "",
    writes_output: bool | None = None,
    out_ext: str = "",
    default_workers: int | None = None,
    repeat_safe: bool = True,
) -> Callable[[F], F]: ...


def action(
    func: Callable[..., Any] | None = None,
    /,
    *,
    kind: str | ExecKind | None = None,
    needs_out: bool = False,
    options: dict[str, str] | None = None,
    description: str | None = None,
    name: str | None = None,
    validate: Callable[[dict[str, str]], None] | None = None,
    out_suffix: str = "",
    writes_output: bool | None = None,
    out_ext: str = "",
    default_workers: int | None = None,
    repeat_safe: bool = True,
) -> Any:
    """Declare how a function runs as an action; the function itself is returned unchanged
    (still a plain importable, picklable function).

    ``kind``: ``'cpu'`` (process pool), ``'io'`` (thread pool) or ``'async'`` (event loop).
    ``options``: ``{name: help}`` accepted with ``--opt``; leave it ``None`` to accept any.
    ``validate(options)`` may raise ``InputError('--opt', ...)`` to refuse bad values up front.
    ``needs_out``: the job is refused without ``--out``; the function writes ``ctx.out_path``.
    ``out_ext``: replaces the input's extension in the output name (``'.txt'`` for an
    extractor); ``out_suffix``: appended after it (``'.gz'``).
    ``default_workers``: the worker count when the user gives none (``None``: one per CPU).
    ``repeat_safe``: running it again on a file is harmless (say ``False`` otherwise).
    """
    parsed = parse_kind(kind) if kind is not None else None

    def decorate(f: F) -> F:
        if not callable(f):
            raise TypeError(f"@action needs a function, got {f!r}")
        if parsed is ExecKind.ASYNC and not _is_async(f):
            raise TypeError(f"{f!r}: kind='async' needs an 'async def' function")
        meta = ActionMeta(
            kind=parsed,
            needs_out=needs_out,
            options=None if options is None else dict(options),
            description=description,
            name=name,
            validate=validate,
            out_suffix=out_suffix,
            writes_output=writes_output,
            out_ext=out_ext,
            default_workers=default_workers,
            repeat_safe=repeat_safe,
        )
        setattr(f, META_ATTR, meta)
        return f

    if func is not None:
        return decorate(func)
    return decorate


def _first_doc_line(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _as_result(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


class PythonAction(Action):
    """A function run per file. Arguments left ``None`` come from its :func:`action`
    declaration, then from defaults (async def -> ASYNC, otherwise THREAD).

    ``func`` is the function itself: the engine calls ``func(ctx)`` on the thread pool or
    awaits it on the loop. :meth:`run` / :meth:`arun` add result normalisation for other callers.
    """

    def __init__(
        self,
        name: str,
        func: Callable[[TaskContext], Any],
        kind: ExecKind | str | None = None,
        description: str | None = None,
        needs_out: bool | None = None,
        options: dict[str, str] | None = None,
        *,
        validate: Callable[[dict[str, str]], None] | None = None,
        out_suffix: str | None = None,
        writes_output: bool | None = None,
        out_ext: str | None = None,
        default_workers: int | None = None,
        repeat_safe: bool | None = None,
        dedupe_default: bool | None = None,
    ) -> None:
        if not callable(func):
            raise TypeError(f"action {name!r}: {func!r} is not callable")
        meta: ActionMeta = getattr(func, META_ATTR, None) or ActionMeta()
        is_async = _is_async(func)
        if kind is None:
            kind = meta.kind
        if kind is None:
            exec_kind = ExecKind.ASYNC if is_async else ExecKind.THREAD
        else:
            exec_kind = parse_kind(kind)
        if exec_kind is ExecKind.ASYNC and not is_async:
            raise TypeError(f"action {name!r}: kind 'async' needs an 'async def' function")
        if exec_kind is ExecKind.THREAD and is_async:
            raise TypeError(f"action {name!r}: an 'async def' function cannot run on threads")
        opts = options if options is not None else meta.options
        out_needed = meta.needs_out if needs_out is None else needs_out
        super().__init__(
            name=name,
            kind=exec_kind,
            description=description or meta.description or _first_doc_line(func),
            needs_out=out_needed,
            options=opts,
            writes_output=writes_output if writes_output is not None else meta.writes_output,
            out_suffix=out_suffix if out_suffix is not None else meta.out_suffix,
            accepts_any_option=opts is None,
            out_ext=out_ext if out_ext is not None else meta.out_ext,
            default_workers=(default_workers if default_workers is not None
                             else meta.default_workers),
            repeat_safe=repeat_safe if repeat_safe is not None else meta.repeat_safe,
            dedupe_default=dedupe_default,
        )
        self.func = func
        self.is_async = is_async
        self._validate = validate or meta.validate

    def check_options(self, options: dict[str, str]) -> None:
        """Run the declared validator; any non-InputError it raises is reported as one."""
        if self._validate is None:
            return
        try:
            self._validate(options)
        except InputError:
            raise
        except Exception as exc:
            raise InputError("--opt", f"{self.name}: {exc}") from None

    def run(self, ctx: TaskContext) -> str | None:
        """Blocking call (thread or process worker); an async function gets its own loop."""
        result: Any = self.func(ctx)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return _as_result(result)

    async def arun(self, ctx: TaskContext) -> str | None:
        """Call on the event loop (kind ASYNC)."""
        result: Any = self.func(ctx)
        if inspect.isawaitable(result):
            result = await result
        return _as_result(result)

    __call__ = run


async def _await(aw: Awaitable[Any]) -> Any:
    return await aw
