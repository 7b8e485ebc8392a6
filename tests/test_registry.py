"""Resolving actions: built-ins, register(), module:function, real entry-point plugins, and the
process-pool trampoline in real worker processes."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_batch.actions import (
    ENTRY_POINT_GROUP,
    Action,
    ActionError,
    CommandAction,
    PythonAction,
    TaskContext,
    list_actions,
    plugin_errors,
    register,
    reload_plugins,
    resolve_action,
    run_in_process,
    unregister,
)
from tui_batch.errors import InputError
from tui_batch.model import ActionSpec, EngineSettings, ExecKind

USER_MODULE = '''
from tui_batch.actions import TaskContext, action

CONSTANT = 42


@action(kind="cpu", options={"mult": "multiplier"})
def size_times(ctx: TaskContext) -> str:
    """Multiply the size (CPU-bound, process pool)."""
    return str(ctx.size * int(ctx.options.get("mult", "2")))


def plain(ctx):
    return "plain:" + ctx.rel


async def coro(ctx):
    return "async:" + ctx.rel


class Weird(Exception):
    def __init__(self, a, b):
        super().__init__(f"weird {a} {b}")


@action(kind="cpu")
def raises_unpicklable(ctx):
    raise Weird(1, 2)


@action(kind="cpu")
def pid(ctx):
    import os
    return str(os.getpid())


class Namespace:
    @staticmethod
    def inner(ctx):
        return "inner"
'''

PLUGIN_MODULE = '''
from tui_batch.actions import Action, PythonAction, TaskContext, action
from tui_batch.model import ExecKind


@action(kind="io", options={"suffix": "appended"})
def upper(ctx: TaskContext) -> str:
    """Upper-case the relative path."""
    return ctx.rel.upper() + ctx.options.get("suffix", "")


@action(kind="cpu")
def square(ctx: TaskContext) -> str:
    """Square of the size, in a worker process."""
    return str(ctx.size ** 2)


INSTANCE = PythonAction("some-other-name", lambda ctx: "instance", "io")


class Counted(Action):
    name = "counted"
    kind = ExecKind.THREAD
    description = "An Action subclass."

    def func(self, ctx):
        return "counted"


NOT_CALLABLE = 3
'''

ENTRY_POINTS = """\
[tui_batch.actions]
upper = tbtest_plugin:upper
square = tbtest_plugin:square
instance = tbtest_plugin:INSTANCE
counted = tbtest_plugin:Counted
broken = tbtest_broken_plugin:thing
notcallable = tbtest_plugin:NOT_CALLABLE
copy = tbtest_plugin:upper
"""


def _forget(prefix: str) -> None:
    for name in list(sys.modules):
        if name.startswith(prefix):
            del sys.modules[name]


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real module on sys.path (as a user's own code would be)."""
    site = tmp_path / "usercode"
    site.mkdir()
    (site / "tbtest_usermod.py").write_text(USER_MODULE)
    (site / "tbtest_brokenmod.py").write_text("raise RuntimeError('half-written module')\n")
    (site / "tbtest_depmod.py").write_text("import tbtest_missing_dependency\n")
    monkeypatch.syspath_prepend(str(site))
    yield str(site)
    _forget("tbtest_")
    reload_plugins()


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real installed distribution (dist-info with entry_points.txt) on sys.path."""
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "tbtest_plugin.py").write_text(PLUGIN_MODULE)
    (site / "tbtest_broken_plugin.py").write_text(
        "import tbtest_not_installed_at_all  # a plugin with a missing dependency\n"
    )
    info = site / "tbtest_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tbtest-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "RECORD").write_text("")
    monkeypatch.syspath_prepend(str(site))
    reload_plugins()
    yield str(site)
    _forget("tbtest_")
    reload_plugins()


def ctx(rel: str = "a/b.txt", size: int = 7, **kw: object) -> TaskContext:
    return TaskContext(rel, ".", rel, size, 0, **kw)  # type: ignore[arg-type]


# -- resolution by name -------------------------------------------------------------------------


def test_resolve_template_and_builtin() -> None:
    assert isinstance(resolve_action(ActionSpec(template="echo {}")), CommandAction)
    sh = resolve_action(ActionSpec(template="echo {}", shell=True))
    assert isinstance(sh, CommandAction) and sh.shell
    gz = resolve_action(ActionSpec(name="gzip"))
    assert gz.name == "gzip" and gz.kind is ExecKind.PROCESS
    assert resolve_action(ActionSpec(name=" copy ")).name == "copy"


def test_resolve_checks_the_spec() -> None:
    with pytest.raises(InputError):
        resolve_action(ActionSpec())
    with pytest.raises(InputError):
        resolve_action(ActionSpec(template="x", name="copy"))


def test_unknown_action_lists_known_ones() -> None:
    with pytest.raises(InputError) as info:
        resolve_action(ActionSpec(name="compress-all"))
    assert info.value.field == "--action"
    assert "unknown action 'compress-all'; known: " in info.value.message
    for name in ("checksum", "copy", "fail", "gzip", "noop", "sleep"):
        assert name in info.value.message


def test_register_and_unregister() -> None:
    def shout(ctx: TaskContext) -> str:
        return ctx.rel.upper()

    try:
        act = register(shout)
        assert act.name == "shout" and act.kind is ExecKind.THREAD
        assert resolve_action(ActionSpec(name="shout")) is act
        assert "shout" in [a.name for a in list_actions()]
        with pytest.raises(ValueError, match="already registered"):
            register(shout)
        register(PythonAction("shout", shout), replace=True)
    finally:
        unregister("shout")
    with pytest.raises(InputError):
        resolve_action(ActionSpec(name="shout"))
    with pytest.raises(ValueError, match="built-in"):
        register(PythonAction("copy", shout))
    with pytest.raises(ValueError, match="invalid action name"):
        register(PythonAction("a:b", shout))


# -- module:function ----------------------------------------------------------------------------


def test_module_function(user_module: str) -> None:
    act = resolve_action(ActionSpec(name="tbtest_usermod:size_times", options={"mult": "3"}))
    assert isinstance(act, PythonAction)
    assert act.name == "tbtest_usermod:size_times"  # what the process pool resolves
    assert act.kind is ExecKind.PROCESS
    assert act.description == "Multiply the size (CPU-bound, process pool)."
    assert act.run(ctx(size=5, options={"mult": "3"})) == "15"
    plain = resolve_action(ActionSpec(name="tbtest_usermod:plain"))
    assert plain.kind is ExecKind.THREAD and plain.accepts_any_option
    plain.check(ActionSpec(name="x", options={"anything": "1"}), EngineSettings())
    assert resolve_action(ActionSpec(name="tbtest_usermod:coro")).kind is ExecKind.ASYNC
    inner = resolve_action(ActionSpec(name="tbtest_usermod:Namespace.inner"))
    assert isinstance(inner, PythonAction) and inner.run(ctx()) == "inner"


@pytest.mark.parametrize(
    ("ref", "needles"),
    [
        (
            "tbtest_nosuchmodule:f",
            ["cannot import module 'tbtest_nosuchmodule'", "No module named"],
        ),
        ("tbtest_usermod:missing", ["module 'tbtest_usermod' has no attribute 'missing'"]),
        ("tbtest_usermod:Namespace.nope", ["has no attribute 'Namespace.nope'"]),
        ("tbtest_brokenmod:f", ["tbtest_brokenmod", "RuntimeError", "half-written module"]),
        ("tbtest_depmod:f", ["tbtest_depmod", "tbtest_missing_dependency"]),
        ("tbtest_usermod:CONSTANT", ["tbtest_usermod:CONSTANT", "neither an Action nor"]),
        ("tbtest_usermod:", ["is not module:function"]),
        (":plain", ["is not module:function"]),
    ],
)
def test_module_function_errors(user_module: str, ref: str, needles: list[str]) -> None:
    with pytest.raises(InputError) as info:
        resolve_action(ActionSpec(name=ref))
    assert info.value.field == "--action"
    for needle in needles:
        assert needle in info.value.message


def test_module_function_found_in_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tui-batch run --action mymod:f` from the folder holding mymod.py (console scripts do
    not put the current folder on sys.path)."""
    here = tmp_path / "project"
    here.mkdir()
    (here / "tbtest_cwdmod.py").write_text("def f(ctx):\n    return 'from cwd'\n")
    monkeypatch.chdir(here)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(here))])
    try:
        act = resolve_action(ActionSpec(name="tbtest_cwdmod:f"))
        assert isinstance(act, PythonAction) and act.run(ctx()) == "from cwd"
    finally:
        _forget("tbtest_")


# -- entry-point plugins ------------------------------------------------------------------------


def test_plugins_discovered(plugin_site: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tui_batch.actions"):
        acts = {a.name: a for a in list_actions()}
    assert {"upper", "square", "instance", "counted"} <= set(acts)
    assert acts["upper"].kind is ExecKind.THREAD
    assert acts["upper"].description == "Upper-case the relative path."
    assert acts["square"].kind is ExecKind.PROCESS
    assert acts["counted"].func(ctx()) == "counted"  # type: ignore[attr-defined]
    assert acts["instance"].name == "instance"  # known by its entry-point name
    # the broken and the unusable ones are skipped with a warning, the tool goes on
    assert "broken" not in acts and "notcallable" not in acts
    assert acts["copy"].kind is ExecKind.THREAD and acts["copy"].needs_out  # still the built-in
    text = caplog.text
    assert "broken" in text and "tbtest_not_installed_at_all" in text
    assert "notcallable" in text
    assert "name of a built-in" in text
    assert set(plugin_errors()) == {"broken", "notcallable"}


def test_plugin_resolved_by_name(plugin_site: str) -> None:
    act = resolve_action(ActionSpec(name="upper", options={"suffix": "!"}))
    assert isinstance(act, PythonAction)
    assert act.run(ctx(options={"suffix": "!"})) == "A/B.TXT!"
    with pytest.raises(InputError) as info:
        act.check(ActionSpec(name="upper", options={"bad": "1"}), EngineSettings())
    assert info.value.field == "--opt"


def test_broken_plugin_named_explicitly(plugin_site: str) -> None:
    with pytest.raises(InputError) as info:
        resolve_action(ActionSpec(name="broken"))
    assert info.value.field == "--action"
    assert "failed to load" in info.value.message
    assert "tbtest_not_installed_at_all" in info.value.message
    # the rest still works
    assert resolve_action(ActionSpec(name="square")).kind is ExecKind.PROCESS


def test_unknown_name_lists_plugins(plugin_site: str) -> None:
    with pytest.raises(InputError) as info:
        resolve_action(ActionSpec(name="nope"))
    assert "upper" in info.value.message and "square" in info.value.message


def test_entry_point_group_name() -> None:
    assert ENTRY_POINT_GROUP == "tui_batch.actions"


def test_builtins_do_not_load_plugins(plugin_site: str) -> None:
    resolve_action(ActionSpec(name="gzip"))
    assert "tbtest_plugin" not in sys.modules  # plugins are imported only when needed


# -- process-pool trampoline --------------------------------------------------------------------


def test_run_in_process_inline(tmp_path: Path, user_module: str) -> None:
    f = tmp_path / "x.txt"
    f.write_bytes(b"abc")
    result = run_in_process("checksum", TaskContext(str(f), str(tmp_path), "x.txt", 3))
    assert result == f"{hashlib.sha256(b'abc').hexdigest()}  {f}"  # as sha256sum prints it
    assert run_in_process("tbtest_usermod:size_times", ctx(size=4)) == "8"
    assert run_in_process("tbtest_usermod:coro", ctx()) == "async:a/b.txt"
    with pytest.raises(ActionError, match="cannot find action"):
        run_in_process("tbtest_nothing_here", ctx())
    with pytest.raises(ActionError, match="Weird: weird 1 2"):
        run_in_process("tbtest_usermod:raises_unpicklable", ctx())


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_run_in_process_real_pool(
    tmp_path: Path, user_module: str, plugin_site: str, method: str
) -> None:
    src = tmp_path / "in" / "data.txt"
    src.parent.mkdir()
    payload = b"compress me " * 10_000
    src.write_bytes(payload)
    gz = resolve_action(ActionSpec(name="gzip"))
    out_dir = str(tmp_path / "out")
    gz_ctx = TaskContext(
        str(src), str(src.parent), "data.txt", len(payload), 0, out_dir,
        gz.out_path_for(out_dir, str(src.parent), "data.txt", False), {"level": "1"},
    )
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
        # the engine sends action.name: resolved again inside the worker
        futures = {
            "gzip": pool.submit(run_in_process, gz.name, gz_ctx),
            "module": pool.submit(run_in_process, "tbtest_usermod:size_times", ctx(size=21)),
            "plugin": pool.submit(run_in_process, "square", ctx(size=12)),
            "pid": pool.submit(run_in_process, "tbtest_usermod:pid", ctx()),
        }
        results = {k: f.result(timeout=60) for k, f in futures.items()}
        bad = pool.submit(run_in_process, "tbtest_usermod:raises_unpicklable", ctx())
        with pytest.raises(ActionError, match="weird 1 2"):
            bad.result(timeout=60)
        missing = pool.submit(run_in_process, "tbtest_nosuchmodule:f", ctx())
        with pytest.raises(ActionError, match="tbtest_nosuchmodule"):
            missing.result(timeout=60)
        # the pool survived both failures
        assert pool.submit(run_in_process, "square", ctx(size=3)).result(timeout=60) == "9"
    assert results["module"] == "42"
    assert results["plugin"] == "144"
    assert results["pid"] != str(os.getpid())
    import gzip

    assert gzip.decompress((tmp_path / "out" / "data.txt.gz").read_bytes()) == payload


def test_registered_action_in_forked_pool() -> None:
    act = register(PythonAction("tbtest-registered", _module_level_cpu, "cpu"))
    try:
        ctx_ = ctx(size=6)
        with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            assert pool.submit(run_in_process, act.name, ctx_).result(timeout=60) == "6!"
    finally:
        unregister("tbtest-registered")


def _module_level_cpu(ctx: TaskContext) -> str:
    return f"{ctx.size}!"


def test_command_action_is_not_for_process_pools() -> None:
    register(CommandAction("echo {}"))
    try:
        with pytest.raises(ActionError, match="cannot run in a process pool"):
            run_in_process("exec", ctx())
    finally:
        unregister("exec")


def test_action_without_func_is_refused() -> None:
    class NotRunnable(Action):
        name = "tbtest-notrunnable"

    with pytest.raises(TypeError):
        register(NotRunnable)
