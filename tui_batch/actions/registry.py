"""Finding actions by name: built-ins, ``register()``-ed ones, plugins, ``module:function``.

Plugins are packages declaring an entry point in the group ``tui_batch.actions``; the entry
point names an :class:`Action` instance (or subclass), or a function (usually decorated with
:func:`tui_batch.actions.action`). They are loaded lazily, only when a name is not a built-in or
when the full list is wanted, and a plugin that fails to import is logged as a warning and
skipped: someone else's broken package must not break the tool.

:func:`run_in_process` is the process pool's entry point: it resolves the action again in the
worker (by the same name the user gave) and caches it there.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata as md
import inspect
import logging
import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from ..model import ActionSpec
from .base import Action, ActionError, TaskContext
from .builtins import BUILTINS
from .python import PythonAction
from .template import CommandAction

__all__ = [
    "ENTRY_POINT_GROUP",
    "list_actions",
    "plugin_errors",
    "register",
    "reload_plugins",
    "resolve_action",
    "run_in_process",
    "unregister",
]

ENTRY_POINT_GROUP = "tui_batch.actions"

log = logging.getLogger("tui_batch.actions")

_lock = threading.RLock()
_registered: dict[str, Action] = {}
_entry_points: dict[str, md.EntryPoint] | None = None
_plugins: dict[str, Action] = {}
_plugin_errors: dict[str, str] = {}
_process_cache: dict[str, Callable[[TaskContext], Any]] = {}


# -- conversion ----------------------------------------------------------------------------


def _to_action(obj: object, name: str) -> Action:
    """An Action from what a plugin or ``module:function`` named; TypeError if unusable."""
    if isinstance(obj, type) and issubclass(obj, Action):
        obj = obj()
    if isinstance(obj, Action):
        if not isinstance(obj, CommandAction) and not callable(getattr(obj, "func", None)):
            raise TypeError(f"{obj!r} has no func(ctx) to run")
        return obj
    if callable(obj):
        return PythonAction(name, obj)
    raise TypeError(f"{obj!r} is neither an Action nor a function")


def _check_name(name: str) -> None:
    if not name or ":" in name or name != name.strip() or any(c.isspace() for c in name):
        raise ValueError(f"invalid action name {name!r} (no spaces, no ':')")


# -- registration --------------------------------------------------------------------------


def register(action: Action | Callable[..., Any], *, replace: bool = False) -> Action:
    """Make an action available by name in this process (API users, tests, embedding apps).

    A function is wrapped in a :class:`PythonAction` named after it (or its ``@action(name=)``).
    Built-in names cannot be taken. Process-pool actions registered this way are found by the
    workers only when they fork from this process (Linux's default); prefer plugins or
    ``module:function`` for those.
    """
    if not isinstance(action, Action):
        meta = getattr(action, "__tui_batch_action__", None)
        fname = str((meta.name if meta is not None else None) or getattr(action, "__name__", ""))
        action = _to_action(action, fname)
    _check_name(action.name)
    with _lock:
        if action.name in BUILTINS:
            raise ValueError(f"{action.name!r} is a built-in action and cannot be replaced")
        if action.name in _registered and not replace:
            raise ValueError(f"an action named {action.name!r} is already registered")
        _registered[action.name] = action
        _process_cache.pop(action.name, None)
    return action


def unregister(name: str) -> None:
    """Forget a registered action (no error if it is not there)."""
    with _lock:
        _registered.pop(name, None)
        _process_cache.pop(name, None)


# -- plugins -------------------------------------------------------------------------------


def _plugin_entry_points() -> dict[str, md.EntryPoint]:
    global _entry_points
    with _lock:
        if _entry_points is None:
            found: dict[str, md.EntryPoint] = {}
            try:
                eps = md.entry_points(group=ENTRY_POINT_GROUP)
            except Exception as exc:  # a broken distribution's metadata
                log.warning("cannot list tui-batch plugins: %s", exc)
                eps = md.EntryPoints(())
            for ep in eps:
                if ep.name in BUILTINS:
                    log.warning(
                        "plugin action %r (%s) ignored: it has the name of a built-in action",
                        ep.name, ep.value,
                    )
                    continue
                if ep.name in found:
                    log.warning(
                        "plugin action %r defined twice (%s and %s); using the first",
                        ep.name, found[ep.name].value, ep.value,
                    )
                    continue
                found[ep.name] = ep
            _entry_points = found
        return _entry_points


def _load_plugin(name: str) -> Action | None:
    """The plugin action ``name`` (loaded once), or None if there is none or it is broken."""
    with _lock:
        if name in _plugins:
            return _plugins[name]
        if name in _plugin_errors:
            return None
        ep = _plugin_entry_points().get(name)
        if ep is None:
            return None
        try:
            action = _to_action(ep.load(), name)
            if not action.name:
                action.name = name
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}"
            _plugin_errors[name] = msg
            log.warning("plugin action %r (%s) skipped: %s", name, ep.value, msg)
            return None
        if action.name != name:
            # users type the entry-point name; workers resolve action.name: make them one
            action.name = name
        _plugins[name] = action
        return action


def reload_plugins() -> None:
    """Forget what was discovered, so newly installed plugins are found (and tests isolate)."""
    global _entry_points
    with _lock:
        _entry_points = None
        _plugins.clear()
        _plugin_errors.clear()
        _process_cache.clear()


def plugin_errors() -> dict[str, str]:
    """Plugins that failed to load, name -> error (for ``tui-batch`` to show in a list)."""
    with _lock:
        return dict(_plugin_errors)


# -- lookup --------------------------------------------------------------------------------


def list_actions() -> list[Action]:
    """Every action available by name, sorted: built-ins, plugins that load, registered."""
    with _lock:
        found: dict[str, Action] = dict(BUILTINS)
        for name in _plugin_entry_points():
            action = _load_plugin(name)
            if action is not None:
                found[name] = action
        found.update(_registered)
    return [found[k] for k in sorted(found)]


def _known_names() -> list[str]:
    with _lock:
        return sorted({*BUILTINS, *_registered, *_plugin_entry_points()} - set(_plugin_errors))


def _by_name(name: str) -> Action:
    action = BUILTINS.get(name) or _registered.get(name)
    if action is not None:
        return action
    action = _load_plugin(name)
    if action is not None:
        return action
    if name in _plugin_errors:
        error = _plugin_errors[name]
        raise InputError("--action", f"plugin action {name!r} failed to load: {error}")
    raise InputError("--action", f"unknown action {name!r}; known: {', '.join(_known_names())}")


def _import_module(mod_name: str) -> Any:
    try:
        return importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        top = mod_name.partition(".")[0]
        cwd = os.getcwd()
        if exc.name in (top, mod_name) and cwd not in sys.path and "" not in sys.path:
            # `tui-batch run --action mymod:f` from the folder holding mymod.py, as with
            # `python -m`: the console script's sys.path does not include the current folder.
            sys.path.append(cwd)
            importlib.invalidate_caches()
            try:
                return importlib.import_module(mod_name)
            except ModuleNotFoundError as exc2:
                raise InputError("--action", f"cannot import module {mod_name!r}: {exc2}") from None
            except Exception as exc2:
                raise InputError(
                    "--action", f"cannot import module {mod_name!r}: {type(exc2).__name__}: {exc2}"
                ) from None
        raise InputError("--action", f"cannot import module {mod_name!r}: {exc}") from None
    except Exception as exc:
        raise InputError(
            "--action", f"cannot import module {mod_name!r}: {type(exc).__name__}: {exc}"
        ) from None


def _by_import(ref: str) -> Action:
    mod_name, _, attr = ref.partition(":")
    mod_name = mod_name.strip()
    attr = attr.strip()
    if not mod_name or not attr:
        raise InputError("--action", f"{ref!r} is not module:function")
    obj: Any = _import_module(mod_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InputError(
                "--action", f"module {mod_name!r} has no attribute {attr!r}"
            ) from None
    try:
        action = _to_action(obj, ref)
    except TypeError as exc:
        raise InputError("--action", f"{ref}: {exc}") from None
    if action.name != ref:
        action.name = ref  # the engine sends this name to process-pool workers
    return action


def _lookup(name: str) -> Action:
    name = name.strip()
    if ":" in name:
        return _by_import(name)
    return _by_name(name)


def resolve_action(spec: ActionSpec) -> Action:
    """The action a spec asks for. Raises ``InputError`` naming ``--exec`` or ``--action``.

    Call ``action.check(spec, settings)`` next to validate ``--out`` and ``--opt``.
    """
    spec.check()
    if spec.template is not None:
        return CommandAction(spec.template, shell=spec.shell)
    assert spec.name is not None  # spec.check() guarantees one of the two
    action = _lookup(spec.name)
    # an action whose outputs depend on its options (compress format=zstd -> .zst) returns a
    # copy declaring them (see actions/jobhooks.py); its workers still resolve it by name
    bind = getattr(action, "for_options", None)
    return bind(dict(spec.options)) if callable(bind) else action


# -- process pool --------------------------------------------------------------------------


def _sync_runner(action: Action) -> Callable[[TaskContext], Any]:
    func: Callable[[TaskContext], Any] = action.func  # type: ignore[attr-defined]

    def run(ctx: TaskContext) -> Any:
        result = func(ctx)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return result

    return run


async def _await(aw: Any) -> Any:
    return await aw


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


def run_in_process(ref: str, ctx: TaskContext) -> str | None:
    """Process-pool trampoline: find the action ``ref`` in this worker (once), run it on ctx.

    ``ref`` is ``action.name``: a built-in, a plugin, a registered name, or ``module:function``.
    Errors come back as exceptions that survive pickling (an unpicklable exception would break
    the whole pool), with their text kept.
    """
    func = _process_cache.get(ref)
    if func is None:
        try:
            action = _lookup(ref)
        except InputError as exc:
            raise ActionError(f"cannot find action {ref!r} in the worker: {exc.message}") from None
        if isinstance(action, CommandAction):
            raise ActionError(f"action {ref!r} cannot run in a process pool")
        func = action.run if isinstance(action, PythonAction) else _sync_runner(action)
        _process_cache[ref] = func
    try:
        return func(ctx)
    except InputError as exc:
        raise ActionError(f"{exc.field}: {exc.message}") from None
    except Exception as exc:
        if _picklable(exc):
            raise
        text = str(exc)
        raise ActionError(f"{type(exc).__name__}: {text}" if text else type(exc).__name__) from None
