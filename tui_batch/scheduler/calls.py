"""Running one attempt of a call job: finding the function, choosing how it runs, its limits.

Why a module of its own: a call job's function is either a ``"module:function"`` reference
(stored, so the job can be resumed by another process) or a plain callable (a lambda or a
closure: in-process only), and it runs as a coroutine on the scheduler's loop (``async``), on a
daemon thread (``io``: a stuck function never holds the process at exit, as for the engine's
thread actions) or in a worker process (``cpu``: by reference only; a timed-out or cancelled
attempt has its worker killed and the pool replaced, the other attempts on that pool run again
transparently). The scheduler (:mod:`.core`) decides when an attempt runs; this module only runs
it and turns the outcome into a value or an exception.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import importlib
import inspect
import json
import traceback
from collections.abc import Callable
from typing import Any

from ..engine.executors.process import _kill_all, _worker_init
from ..engine.executors.threads import DaemonThreadPool
from ..errors import InputError

__all__ = [
    "KINDS",
    "AttemptRunner",
    "ChildError",
    "check_kind",
    "default_kind",
    "json_args",
    "reference_of",
    "resolve",
    "result_json",
]

KINDS = ("io", "cpu", "async")
_ALIASES = {"thread": "io", "process": "cpu", "coroutine": "async"}


def resolve(ref: str, field: str = "func") -> Callable[..., Any]:
    """The callable ``"package.module:qualified.name"`` names (InputError if there is none)."""
    mod_name, sep, qual = ref.partition(":")
    if not sep or not mod_name or not qual:
        raise InputError(field, f"{ref!r} is not a 'module:function' reference")
    try:
        obj: Any = importlib.import_module(mod_name)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise InputError(field, f"cannot find {ref!r}: {exc}") from None
    if not callable(obj):
        raise InputError(field, f"{ref!r} is not callable")
    return obj  # type: ignore[no-any-return,unused-ignore]


def reference_of(func: Callable[..., Any]) -> str | None:
    """``"module:qualname"`` if importing it gives back this very function, else None (a
    lambda, a closure, a bound method, a function of ``__main__``: they cannot be found again
    by another process, so their jobs are not resumable)."""
    mod = getattr(func, "__module__", None)
    qual = getattr(func, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qual, str) or "<" in qual or mod == "__main__":
        return None
    ref = f"{mod}:{qual}"
    try:
        found = resolve(ref)
    except InputError:
        return None
    return ref if found is func else None


def default_kind(func: Callable[..., Any]) -> str:
    """Coroutine functions run as ``async``, every other callable on a thread (``io``)."""
    return "async" if inspect.iscoroutinefunction(func) else "io"


def check_kind(kind: str, func: Callable[..., Any], ref: str | None) -> str:
    """The execution kind as stored (io, cpu, async); InputError when it cannot work."""
    k = _ALIASES.get(str(kind).lower(), str(kind).lower())
    if k not in KINDS:
        raise InputError("kind", f"unknown kind {kind!r} (use io, cpu or async)")
    if k == "cpu" and ref is None:
        raise InputError("kind", "a cpu job runs in another process: give an importable "
                                 "function (a lambda or a closure cannot be sent there)")
    if k == "async" and not inspect.iscoroutinefunction(func):
        raise InputError("kind", "kind='async' needs a coroutine function (async def)")
    if k != "async" and inspect.iscoroutinefunction(func):
        raise InputError("kind", f"kind={k!r} cannot run a coroutine function; use 'async'")
    return k


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def json_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The arguments as stored (``{"args": [...], "kwargs": {...}}``) if they survive a JSON
    round trip unchanged (tuples may become lists), else None: the job is then in-process."""
    data = {"args": list(args), "kwargs": dict(kwargs)}
    try:
        back = json.loads(json.dumps(data))
    except (TypeError, ValueError):
        return None
    return data if back == _plain(data) else None


def result_json(value: Any) -> str | None:
    """The return value as JSON text, or None when it is not JSON-serialisable."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return None


class ChildError(Exception):
    """An exception raised in a worker process, as text (the original may not pickle)."""

    def __init__(self, type_name: str, message: str, tb: str) -> None:
        super().__init__(type_name, message, tb)
        self.type_name, self.message, self.tb = type_name, message, tb


def _in_child(ref: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Process-pool trampoline: find the function by reference in the worker and call it."""
    try:
        return resolve(ref)(*args, **kwargs)
    except Exception as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise ChildError(type(exc).__name__, str(exc), tb) from None


class AttemptRunner:
    """Runs attempts; owns the daemon threads and the worker-process pool they share."""

    def __init__(self, cpu_workers: int) -> None:
        self.threads = DaemonThreadPool("tui-batch-call")
        self._cpu_workers = max(1, cpu_workers)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._generation = 0
        self._ended: list[Any] = []

    async def run(
        self, kind: str, func: Callable[..., Any], ref: str | None,
        args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None,
    ) -> Any:
        """One attempt; returns its value or raises its exception (TimeoutError on timeout,
        CancelledError when the scheduler cancels it)."""
        try:
            if kind == "async":
                return await asyncio.wait_for(func(*args, **kwargs), timeout)
            if kind == "io":
                fut = self.threads.submit(_call, func, args, kwargs)
                return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)
            assert ref is not None
            return await self._run_cpu(ref, args, kwargs, timeout)
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout:g}s") from None

    async def _run_cpu(
        self, ref: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
    ) -> Any:
        while True:
            if self._pool is None:
                self._pool = cf.ProcessPoolExecutor(self._cpu_workers, initializer=_worker_init)
            generation, pool = self._generation, self._pool
            try:
                fut = pool.submit(_in_child, ref, args, kwargs)
                return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)
            except cf.BrokenExecutor:  # (BrokenProcessPool; cf.process is not imported)
                if generation == self._generation:
                    self._replace_pool(generation)
                    raise
                # the pool was replaced for another attempt's sake: run again on the new one
            except (TimeoutError, asyncio.CancelledError):
                self._replace_pool(generation)
                raise

    def _replace_pool(self, generation: int) -> None:
        """Kill the workers (a timed-out function cannot be asked to stop) and start over."""
        if generation != self._generation or self._pool is None:
            return
        old, self._pool = self._pool, None
        self._generation += 1
        procs = list((getattr(old, "_processes", None) or {}).values())
        _kill_all(procs)
        self._ended.extend(procs)
        old.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes (threads are daemons: nothing waits for them)."""
        if self._pool is not None:
            self._replace_pool(self._generation)
        for proc in self._ended:
            proc.join(1.0)
        self._ended.clear()
        self.threads.shutdown()


def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return func(*args, **kwargs)
