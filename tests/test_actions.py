"""Built-in actions, Python actions and the @action decorator, on real files."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import pickle
import stat
import time
from pathlib import Path

import pytest

from tui_batch.actions import (
    Action,
    ActionError,
    OutputError,
    PythonAction,
    TaskContext,
    action,
    list_actions,
    make_context,
    resolve_action,
)
from tui_batch.errors import InputError
from tui_batch.model import ActionSpec, EngineSettings, ExecKind, FileEntry


def entry_for(root: Path, rel: str, data: bytes = b"hello world\n") -> FileEntry:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    st = path.stat()
    return FileEntry(str(path), str(root), rel, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)


def named(name: str, **options: str) -> tuple[Action, ActionSpec]:
    spec = ActionSpec(name=name, options=dict(options))
    return resolve_action(spec), spec


def run_sync(act: Action, ctx: TaskContext) -> str | None:
    """Call the action the way the engine does for its kind (thread/process: func; async: await)."""
    assert isinstance(act, PythonAction)
    func = act.func
    result = asyncio.run(func(ctx)) if act.kind is ExecKind.ASYNC else func(ctx)
    assert result is None or isinstance(result, str)
    return result


# -- TaskContext --------------------------------------------------------------------------------


def test_task_context_positional_order_and_pickle() -> None:
    raw = os.fsdecode(b"/in/caf\xe9.txt")
    ctx = TaskContext(raw, "/in", "caf.txt", 5, 7, "/out", "/out/x", {"k": "v"}, 3, 2)
    assert (ctx.size, ctx.mtime_ns, ctx.out_dir, ctx.out_path) == (5, 7, "/out", "/out/x")
    assert (ctx.options, ctx.task_id, ctx.attempt) == ({"k": "v"}, 3, 2)
    back = pickle.loads(pickle.dumps(ctx))
    assert back == ctx
    assert os.fsencode(back.path) == b"/in/caf\xe9.txt"
    assert not hasattr(ctx, "__dict__")  # slots
    minimal = TaskContext("a", ".", "a")
    assert minimal.out_path is None and minimal.options == {} and minimal.attempt == 1


def test_make_context_uses_out_path_for(tmp_path: Path) -> None:
    e = entry_for(tmp_path / "in", "d/a.txt")
    act, _ = named("gzip")
    ctx = make_context(act, e, out_dir=str(tmp_path / "out"), options={"level": "1"}, task_id=9)
    assert ctx.out_path == str(tmp_path / "out" / "d" / "a.txt.gz")
    assert ctx.task_id == 9 and ctx.options == {"level": "1"}
    assert make_context(act, e).out_path is None


# -- listing and checks -------------------------------------------------------------------------


def test_builtins_listed_with_kinds() -> None:
    acts = {a.name: a for a in list_actions()}
    kinds = {n: acts[n].kind for n in ("copy", "checksum", "gzip", "noop", "sleep", "fail")}
    assert kinds == {
        "copy": ExecKind.THREAD,
        "checksum": ExecKind.THREAD,
        "gzip": ExecKind.PROCESS,
        "noop": ExecKind.ASYNC,
        "sleep": ExecKind.ASYNC,
        "fail": ExecKind.THREAD,
    }
    names = [a.name for a in list_actions()]
    assert names == sorted(names)
    assert all(a.description for a in acts.values())


@pytest.mark.parametrize("name", ["copy", "gzip"])
def test_needs_out(name: str) -> None:
    act, spec = named(name)
    assert act.needs_out
    with pytest.raises(InputError) as info:
        act.check(spec, EngineSettings())
    assert info.value.field == "--out"
    act.check(spec, EngineSettings(out_dir="/tmp/somewhere"))


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    act, spec = named("copy")
    with pytest.raises(InputError) as info:
        act.check(spec, EngineSettings(out_dir=str(f)))
    assert info.value.field == "--out"


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("copy", {"x": "1"}),
        ("gzip", {"level": "0"}),
        ("gzip", {"level": "10"}),
        ("gzip", {"level": "fast"}),
        ("gzip", {"lvl": "3"}),
        ("sleep", {"seconds": "-1"}),
        ("sleep", {"seconds": "nan"}),
        ("sleep", {"seconds": "soon"}),
        ("fail", {"rate": "1.5"}),
        ("fail", {"times": "-1"}),
        ("noop", {"a": "b"}),
    ],
)
def test_bad_options_refused(name: str, options: dict[str, str]) -> None:
    act, spec = named(name, **options)
    with pytest.raises(InputError) as info:
        act.check(spec, EngineSettings(out_dir="/tmp/o"))
    assert info.value.field == "--opt"


def test_good_options_accepted() -> None:
    for name, opts in [("gzip", {"level": "9"}), ("sleep", {"seconds": "0.5"}),
                       ("fail", {"rate": "0.25", "times": "2"})]:
        act, spec = named(name, **opts)
        act.check(spec, EngineSettings(out_dir="/tmp/o"))


# -- copy ---------------------------------------------------------------------------------------


def test_copy_mirrors_atomically_keeping_mode_and_mtime(tmp_path: Path) -> None:
    root = tmp_path / "in"
    e = entry_for(root, "sub/dir/a b.txt", b"payload" * 1000)
    os.chmod(e.path, 0o640)
    os.utime(e.path, ns=(1_000_000_000, 1_234_567_890_123_456_789))
    act, _ = named("copy")
    out = tmp_path / "out"
    ctx = make_context(act, e, out_dir=str(out))
    assert run_sync(act, ctx) is None
    final = out / "sub" / "dir" / "a b.txt"
    assert final.read_bytes() == b"payload" * 1000
    st = final.stat()
    assert st.st_mtime_ns == 1_234_567_890_123_456_789
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert os.listdir(final.parent) == ["a b.txt"]
    # with conflict=overwrite, running again replaces the previous output (still atomically);
    # the default (skip) is tested in test_fileops_templates.py
    Path(e.path).write_bytes(b"new")
    ctx.options = {"conflict": "overwrite"}
    run_sync(act, ctx)
    assert final.read_bytes() == b"new"


def test_copy_non_utf8_name(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    raw = b"caf\xe9 \xff.txt"
    with open(os.path.join(os.fsencode(root), raw), "wb") as f:
        f.write(b"bytes")
    rel = os.fsdecode(raw)
    e = FileEntry(os.path.join(str(root), rel), str(root), rel, 5, 0)
    act, _ = named("copy")
    run_sync(act, make_context(act, e, out_dir=str(tmp_path / "out")))
    assert os.listdir(os.fsencode(tmp_path / "out")) == [raw]


def test_copy_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    root = tmp_path / "in"
    e = entry_for(root, "a.txt", b"keep me")
    act, _ = named("copy")
    ctx = make_context(act, e, out_dir=str(root))
    with pytest.raises(OutputError):
        run_sync(act, ctx)
    assert Path(e.path).read_bytes() == b"keep me"
    assert os.listdir(root) == ["a.txt"]


def test_copy_refuses_symlink_planted_in_out(tmp_path: Path) -> None:
    e = entry_for(tmp_path / "in", "sub/a.txt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(elsewhere)
    act, _ = named("copy")
    with pytest.raises(OutputError):
        run_sync(act, make_context(act, e, out_dir=str(out)))
    assert os.listdir(elsewhere) == []


def test_copy_failure_leaves_no_temp(tmp_path: Path) -> None:
    e = entry_for(tmp_path / "in", "a.txt")
    act, _ = named("copy")
    ctx = make_context(act, e, out_dir=str(tmp_path / "out"))
    os.unlink(e.path)  # vanished between the scan and the run
    with pytest.raises(FileNotFoundError):
        run_sync(act, ctx)
    os.mkdir(e.path)  # replaced by something that fails half-way through the copy
    with pytest.raises(IsADirectoryError):
        run_sync(act, ctx)
    assert os.listdir(tmp_path / "out") == []


# -- checksum -----------------------------------------------------------------------------------


def test_checksum_streams_and_formats(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # several read chunks
    e = entry_for(tmp_path / "in", "d/big.bin", data)
    act, _ = named("checksum")
    result = run_sync(act, make_context(act, e))
    assert result == f"{hashlib.sha256(data).hexdigest()}  {e.path}"  # as sha256sum prints it
    assert act.out_path_for(None, e.root, e.rel, False) is None


def test_checksum_with_out_writes_sidecar(tmp_path: Path) -> None:
    e = entry_for(tmp_path / "in", "d/a.txt", b"abc")
    act, _ = named("checksum")
    out = tmp_path / "out"
    ctx = make_context(act, e, out_dir=str(out))
    assert ctx.out_path == str(out / "d" / "a.txt.sha256")
    result = run_sync(act, ctx)
    digest = hashlib.sha256(b"abc").hexdigest()
    assert result == f"{digest}  {e.path}"
    # a sidecar names its file by its base name: `sha256sum -c` in the file's folder checks it
    assert (out / "d" / "a.txt.sha256").read_bytes() == f"{digest}  a.txt\n".encode()


def test_checksum_non_utf8_name_round_trips_as_sha256sum_prints_it(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    raw = b"x\xff.bin"
    with open(os.path.join(os.fsencode(root), raw), "wb") as f:
        f.write(b"1")
    rel = os.fsdecode(raw)
    act, _ = named("checksum")
    result = run_sync(act, TaskContext(os.path.join(str(root), rel), str(root), rel))
    assert result is not None
    # the name's own bytes, as sha256sum writes them (the store escapes what TEXT cannot hold)
    assert result.encode("utf-8", "surrogateescape").endswith(b"/x\xff.bin")


# -- gzip ---------------------------------------------------------------------------------------


def test_gzip_writes_dot_gz(tmp_path: Path) -> None:
    data = b"line of text\n" * 50_000
    e = entry_for(tmp_path / "in", "logs/app.log", data)
    os.utime(e.path, ns=(10**18, 1_600_000_000_000_000_000))
    act, _ = named("gzip", level="9")
    out = tmp_path / "out"
    ctx = make_context(act, e, out_dir=str(out), options={"level": "9"})
    assert ctx.out_path == str(out / "logs" / "app.log.gz")
    result = run_sync(act, ctx)
    final = out / "logs" / "app.log.gz"
    assert gzip.decompress(final.read_bytes()) == data
    assert final.stat().st_mtime_ns == 1_600_000_000_000_000_000
    assert result is None  # prints nothing, as gzip does
    assert os.listdir(final.parent) == ["app.log.gz"]


def test_gzip_levels_differ(tmp_path: Path) -> None:
    data = os.urandom(1000) * 300
    e = entry_for(tmp_path / "in", "a.bin", data)
    act, _ = named("gzip")
    sizes = []
    for level in ("1", "9"):
        out = tmp_path / f"out{level}"
        run_sync(act, make_context(act, e, out_dir=str(out), options={"level": level}))
        sizes.append((out / "a.bin.gz").stat().st_size)
        assert gzip.decompress((out / "a.bin.gz").read_bytes()) == data
    assert sizes[0] != sizes[1]


# -- noop / sleep / fail ------------------------------------------------------------------------


def test_noop_and_sleep_are_coroutines() -> None:
    noop, _ = named("noop")
    ctx = TaskContext("a", ".", "a")
    assert asyncio.iscoroutinefunction(noop.func)  # type: ignore[attr-defined]
    assert run_sync(noop, ctx) is None
    sleep, _ = named("sleep")
    t0 = time.monotonic()
    run_sync(sleep, TaskContext("a", ".", "a", options={"seconds": "0.05"}))
    assert 0.04 <= time.monotonic() - t0 < 2


def test_sleep_runs_concurrently() -> None:
    sleep, _ = named("sleep")

    async def many() -> None:
        ctx = TaskContext("a", ".", "a", options={"seconds": "0.1"})
        await asyncio.gather(*(sleep.func(ctx) for _ in range(50)))  # type: ignore[attr-defined]

    t0 = time.monotonic()
    asyncio.run(many())
    assert time.monotonic() - t0 < 1.5


def test_fail_always_by_default() -> None:
    act, _ = named("fail")
    with pytest.raises(ActionError, match="deliberate failure"):
        run_sync(act, TaskContext("a", ".", "a"))


def test_fail_rate_is_deterministic_by_path() -> None:
    act, _ = named("fail")
    paths = [f"dir/file{i}.txt" for i in range(400)]

    def failing(rate: str) -> set[str]:
        bad = set()
        for p in paths:
            try:
                run_sync(act, TaskContext(p, ".", p, options={"rate": rate}))
            except ActionError:
                bad.add(p)
        return bad

    half = failing("0.5")
    assert 120 < len(half) < 280
    assert failing("0.5") == half  # same files every time (so retries keep failing them)
    assert failing("0") == set()
    assert failing("1") == set(paths)
    assert failing("0.25") <= half


def test_fail_times_then_succeeds() -> None:
    act, _ = named("fail")
    outcomes = []
    for attempt in (1, 2, 3, 4):
        ctx = TaskContext("a", ".", "a", options={"times": "2"}, attempt=attempt)
        try:
            run_sync(act, ctx)
            outcomes.append("ok")
        except ActionError:
            outcomes.append("fail")
    assert outcomes == ["fail", "fail", "ok", "ok"]


# -- PythonAction and @action -------------------------------------------------------------------


def test_python_action_default_kinds() -> None:
    def sync_fn(ctx: TaskContext) -> str:
        """Upper-case the name."""
        return ctx.rel.upper()

    async def async_fn(ctx: TaskContext) -> None:
        return None

    a = PythonAction("up", sync_fn)
    assert a.kind is ExecKind.THREAD and a.description == "Upper-case the name."
    assert a.accepts_any_option
    assert a.func is sync_fn
    assert a(TaskContext("p", ".", "x")) == "X"
    b = PythonAction("nothing", async_fn)
    assert b.kind is ExecKind.ASYNC
    assert asyncio.run(b.arun(TaskContext("p", ".", "x"))) is None
    assert b.run(TaskContext("p", ".", "x")) is None  # own loop when called blocking


def test_python_action_results_are_normalised() -> None:
    assert PythonAction("n", lambda ctx: 42).run(TaskContext("p", ".", "p")) == "42"
    raw = PythonAction("b", lambda ctx: b"caf\xe9")
    assert raw.run(TaskContext("p", ".", "p")) == "caf\\xe9"


def test_python_action_kind_mismatch() -> None:
    async def coro(ctx: TaskContext) -> None:
        return None

    with pytest.raises(TypeError):
        PythonAction("x", lambda ctx: None, ExecKind.ASYNC)
    with pytest.raises(TypeError):
        PythonAction("x", coro, "io")
    assert PythonAction("x", coro, "cpu").kind is ExecKind.PROCESS  # run() drives it
    with pytest.raises(ValueError):
        PythonAction("x", lambda ctx: None, "gpu")


def test_decorator_declares_kind_and_options(tmp_path: Path) -> None:
    def check_width(options: dict[str, str]) -> None:
        if not options.get("width", "1").isdigit():
            raise ValueError("width must be a number")

    @action(kind="cpu", needs_out=True, options={"width": "pixels"}, validate=check_width,
            out_suffix=".png")
    def thumb(ctx: TaskContext) -> str:
        return "ok"

    @action
    def plain(ctx: TaskContext) -> None:
        return None

    @action(kind="async")
    async def fetch(ctx: TaskContext) -> None:
        return None

    assert thumb(TaskContext("a", ".", "a")) == "ok"  # still a plain function
    a = PythonAction("thumb", thumb)
    assert a.kind is ExecKind.PROCESS and a.needs_out and a.options == {"width": "pixels"}
    assert a.out_path_for("/o", "/r", "x/y.jpg", False) == "/o/x/y.jpg.png"
    spec = ActionSpec(name="thumb", options={"width": "wide"})
    with pytest.raises(InputError) as info:
        a.check(spec, EngineSettings(out_dir="/o"))
    assert info.value.field == "--opt" and "width must be a number" in info.value.message
    with pytest.raises(InputError) as info:
        a.check(ActionSpec(name="thumb", options={"height": "1"}), EngineSettings(out_dir="/o"))
    assert "known: width" in info.value.message
    with pytest.raises(InputError):
        a.check(ActionSpec(name="thumb"), EngineSettings())
    assert PythonAction("plain", plain).kind is ExecKind.THREAD
    assert PythonAction("fetch", fetch).kind is ExecKind.ASYNC
    with pytest.raises(TypeError):
        action(kind="async")(plain)
    with pytest.raises(ValueError):
        action(kind="quantum")


def test_python_action_exception_text_propagates() -> None:
    def broken(ctx: TaskContext) -> None:
        raise ValueError(f"cannot parse {ctx.rel}")

    with pytest.raises(ValueError, match=r"cannot parse x\.csv"):
        PythonAction("b", broken).run(TaskContext("x.csv", ".", "x.csv"))


def test_action_subclass_with_class_attributes() -> None:
    class Shout(Action):
        name = "shout"
        kind = ExecKind.THREAD
        description = "Shout the name."
        options = {"times": "how many"}

        def func(self, ctx: TaskContext) -> str:
            return ctx.rel.upper()

    s = Shout()
    assert s.name == "shout" and s.options == {"times": "how many"} and not s.needs_out
    assert s.func(TaskContext("a", ".", "a")) == "A"
    with pytest.raises(InputError):
        s.check(ActionSpec(name="shout", options={"x": "1"}), EngineSettings())
