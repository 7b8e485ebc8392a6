"""Command templates: placeholders, parsing errors, and (executed for real) name safety."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_batch.actions import (
    CommandAction,
    OutputError,
    PreparedCommand,
    TaskContext,
    resolve_action,
)
from tui_batch.errors import InputError
from tui_batch.model import ActionSpec, EngineSettings

PY = sys.executable

ARGDUMP = """\
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(b"\\0".join(os.fsencode(a) for a in sys.argv[2:]))
"""

# Names that must be processed as names, never interpreted.
EVIL_NAMES = [
    "plain.txt",
    "with space.txt",
    "it's \"quoted\".txt",
    "$(touch PWNED).txt",
    "`touch PWNED`.txt",
    "a;touch PWNED;.txt",
    "x\ntouch PWNED\n.txt",
    "a|touch PWNED",
    "&&touch PWNED",
    ">PWNED",
    "$HOME.txt",
    "${IFS}x.txt",
    "*.txt",
    "back\\slash.txt",
    "{}.txt",
    "tab\there.txt",
    "-rf",
    "--help.txt",
    "EOF",
]
NON_UTF8 = [b"caf\xe9 $(touch PWNED).txt", b"\xff\xfe-raw", b"-\x80lead"]


def lit(text: str) -> str:
    """A literal argument inside a template: shell-quoted, braces doubled."""
    return shlex.quote(text).replace("{", "{{").replace("}", "}}")


def ctx_for(path: str, root: str = ".", rel: str | None = None, **kw: object) -> TaskContext:
    return TaskContext(path, root, rel if rel is not None else path, **kw)  # type: ignore[arg-type]


def argv_of(template: str, path: str, shell: bool = False) -> list[str]:
    return CommandAction(template, shell).prepare(ctx_for(path)).argv


@pytest.fixture
def argdump(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "argdump.py"
    script.write_text(ARGDUMP)
    dump = tmp_path / "dump.bin"
    return f"{lit(PY)} -S {lit(str(script))} {lit(str(dump))}", dump


def read_dump(dump: Path) -> list[bytes]:
    return dump.read_bytes().split(b"\0")


# -- placeholders -----------------------------------------------------------------------------


def test_every_placeholder() -> None:
    argv = argv_of("echo {} {/} {//} {.} {/.}", "photos/2024/img.final.jpg")
    assert argv == [
        "echo",
        "photos/2024/img.final.jpg",
        "img.final.jpg",
        "photos/2024",
        "photos/2024/img.final",
        "img.final",
    ]


def test_placeholders_edge_paths() -> None:
    # no folder part -> {//} is '.', a dot file has no extension
    assert argv_of("x {//} {.} {/.}", "file") == ["x", ".", "file", "file"]
    assert argv_of("x {.} {/.}", "dir.d/.bashrc") == ["x", "dir.d/.bashrc", ".bashrc"]
    assert argv_of("x {.}", "/abs/a.tar.gz") == ["x", "/abs/a.tar"]
    assert argv_of("x {//}", "/top") == ["x", "/"]


def test_placeholders_inside_an_argument() -> None:
    argv = argv_of("convert {} out/{/.}.png --label=[{/}]", "in/a b.jpg")
    assert argv == ["convert", "in/a b.jpg", "out/a b.png", "--label=[a b.jpg]"]


def test_literal_braces() -> None:
    assert argv_of("awk '{{print $1}}' {}", "f.txt") == ["awk", "{print $1}", "f.txt"]
    assert argv_of("echo {{}} }}{{ {}", "f") == ["echo", "{}", "}{", "f"]


def test_no_placeholder_appends_the_path() -> None:
    assert argv_of("gzip -k", "a.log") == ["gzip", "-k", "a.log"]
    assert argv_of("wc -l", "-n") == ["wc", "-l", "./-n"]


def test_quotes_are_split_once() -> None:
    argv = argv_of("""sh -c 'echo "$0"' {}""", "x y")
    assert argv == ["sh", "-c", 'echo "$0"', "x y"]


def test_leading_dash_gets_dot_slash_only_at_element_start() -> None:
    argv = argv_of("rm {} {/} x{/} {//}", "-rf")
    assert argv == ["rm", "./-rf", "./-rf", "x-rf", "."]
    argv = argv_of("cat {/} --{/.}", "dir/-n.txt")
    assert argv == ["cat", "./-n.txt", "---n"]
    # a path that does not start with '-' is untouched
    assert argv_of("cat {}", "dir/-n") == ["cat", "dir/-n"]


def test_placeholder_as_command_runs_the_file_not_a_namesake(tmp_path: Path) -> None:
    assert argv_of("{}", "ls") == ["./ls"]
    assert argv_of("{} --flag", "bin/tool") == ["bin/tool", "--flag"]


# -- parse errors (at resolve time) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "shell", "needle"),
    [
        ("echo {foo}", False, "unknown placeholder {foo}; use {} {/} {//} {.} {/.} {out}"),
        ("echo {foo}", True, "unknown placeholder {foo}"),
        ("awk '{print}' {}", False, "unknown placeholder {print}"),
        ("echo {", False, "unbalanced '{'"),
        ("echo {} }", False, "unbalanced '}'"),
        ("echo {a{}", False, "unbalanced '{'"),
        ("echo 'abc {}", False, "no closing quotation"),
        ('echo "abc {}', True, "shell syntax error"),
        ("echo {} )", True, "shell syntax error"),
        ("cat <<'EOF'\n{}\nEOF", True, "quoted here-document"),
        ("echo \\{}", True, "cannot follow a backslash"),
        ("echo \0 {}", False, "NUL"),
    ],
)
def test_template_errors(template: str, shell: bool, needle: str) -> None:
    with pytest.raises(InputError) as info:
        resolve_action(ActionSpec(template=template, shell=shell))
    assert info.value.field == "--exec"
    assert needle in info.value.message


def test_check_out_and_options() -> None:
    spec = ActionSpec(template="cp {} {out}")
    action = resolve_action(spec)
    with pytest.raises(InputError) as info:
        action.check(spec, EngineSettings())
    assert info.value.field == "--out"
    action.check(spec, EngineSettings(out_dir="/tmp/x"))
    spec2 = ActionSpec(template="echo {}", options={"level": "3"})
    with pytest.raises(InputError) as info:
        resolve_action(spec2).check(spec2, EngineSettings())
    assert info.value.field == "--opt"


def test_out_path_for() -> None:
    uses = CommandAction("cp {} {out}")
    assert uses.out_path_for("/o", "/r", "a/b.txt", False) == "/o/a/b.txt"
    assert uses.out_path_for("/o", "/data/r1", "a.txt", True) == "/o/r1/a.txt"
    assert uses.out_path_for(None, "/r", "a", False) is None
    assert CommandAction("echo {}").out_path_for("/o", "/r", "a", False) is None


# -- shell mode -------------------------------------------------------------------------------


def test_shell_argv_shape() -> None:
    p = CommandAction("gzip -c {} > {out}", shell=True)
    assert p.uses_out
    prepared = CommandAction("wc -c {} {/}", shell=True).prepare(ctx_for("d/a b"))
    assert prepared.argv[:2] == ["sh", "-c"]
    assert prepared.argv[3:] == ["sh", "d/a b", "a b"]


def test_shell_no_placeholder_appends_the_path(tmp_path: Path) -> None:
    prepared = CommandAction("printf '[%s]'", shell=True).prepare(ctx_for("a b"))
    out = subprocess.run(prepared.argv, capture_output=True, text=True, check=True).stdout
    assert out == "[a b]"


# -- executed for real: names are never interpreted -------------------------------------------


def _make_files(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for name in EVIL_NAMES:
        (folder / name).write_bytes(b"x")
        names.append(name)
    for raw in NON_UTF8:
        with open(os.path.join(os.fsencode(folder), raw), "wb") as f:
            f.write(b"x")
        names.append(os.fsdecode(raw))
    return names


def _expect(value: str, at_start: bool = True) -> bytes:
    if at_start and value.startswith("-"):
        value = "./" + value
    return os.fsencode(value)


NO_SHELL_TEMPLATES = ["{} {/} {//} {.} {/.} pre{/}post"]
SHELL_TEMPLATES = [
    "{} {/} {//} {.} {/.} pre{/}post",
    '"{}" "{/}" "{//}" "{.}" "{/.}" "pre{/}post"',
    "'{}' '{/}' '{//}' '{.}' '{/.}' 'pre{/}post'",
    "{} {/} {//} {.} {/.} pre{/}post # a comment with it's {} in it",
]


def _check_run(argv: list[str], cwd: Path, dump: Path, expected: list[bytes]) -> None:
    if dump.exists():
        dump.unlink()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    assert read_dump(dump) == expected
    leftovers = [n for n in os.listdir(cwd) if n.startswith(("PWNED", ".PWNED"))]
    assert leftovers == []
    assert not (cwd.parent / "PWNED").exists()


@pytest.mark.parametrize("shell", [False, True])
@pytest.mark.parametrize("relative", [False, True])
def test_evil_names_are_passed_byte_exact(
    tmp_path: Path, argdump: tuple[str, Path], shell: bool, relative: bool
) -> None:
    prefix, dump = argdump
    folder = tmp_path / "in"
    names = _make_files(folder)
    templates = SHELL_TEMPLATES if shell else NO_SHELL_TEMPLATES
    for body in templates:
        action = CommandAction(f"{prefix} {body}", shell=shell)
        for name in names:
            path = name if relative else os.path.join(str(folder), name)
            assert os.path.exists(os.path.join(str(folder), name))
            argv = action.prepare(ctx_for(path, str(folder), name)).argv
            stem = os.path.splitext(path)[0]
            expected = [
                _expect(path),
                _expect(name),
                _expect(os.path.dirname(path) or "."),
                _expect(stem),
                _expect(os.path.splitext(name)[0]),
                b"pre" + os.fsencode(name) + b"post",
            ]
            _check_run(argv, folder, dump, expected)


def test_shell_substitutions_and_heredoc_are_safe(
    tmp_path: Path, argdump: tuple[str, Path]
) -> None:
    prefix, dump = argdump
    folder = tmp_path / "in"
    names = _make_files(folder)
    cases = [
        # value captured through command substitution inside double quotes
        (f'{prefix} "$(printf %s {{/}})"', lambda n: [os.fsencode(n.rstrip("\n"))]),
        (f"{prefix} \"`printf %s {{/}}`\"", lambda n: [os.fsencode(n.rstrip("\n"))]),
    ]
    for template, expect in cases:
        action = CommandAction(template, shell=True)
        for name in names:
            if name.startswith("-"):
                continue  # printf would see an option: not what this case checks
            argv = action.prepare(ctx_for(name, str(folder), name)).argv
            _check_run(argv, folder, dump, expect(name))
    # a here-document body: the value is expanded, never parsed
    out_file = tmp_path / "heredoc.txt"
    action = CommandAction(f"cat > {lit(str(out_file))} <<EOF\n[{{/}}]\nEOF\n", shell=True)
    for name in names:
        argv = action.prepare(ctx_for(os.path.join(str(folder), name), str(folder), name)).argv
        subprocess.run(argv, cwd=folder, check=True)
        assert out_file.read_bytes() == b"[" + os.fsencode(name) + b"]\n"
        assert not (folder / "PWNED").exists()


def test_textual_quoting_would_have_been_unsafe(tmp_path: Path) -> None:
    """Why values are not shlex.quote()d into the script: this is what that would run."""
    name = "$(touch PWNED)"
    unsafe = 'echo "' + shlex.quote(name) + '"'
    subprocess.run(["sh", "-c", unsafe], cwd=tmp_path, capture_output=True)
    assert (tmp_path / "PWNED").exists()
    (tmp_path / "PWNED").unlink()
    argv = CommandAction('echo "{}"', shell=True).prepare(ctx_for(name)).argv
    out = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True).stdout
    assert out == name + "\n"
    assert not (tmp_path / "PWNED").exists()


# -- {out}: temporary output renamed into place -----------------------------------------------


def _out_ctx(tmp_path: Path, rel: str) -> tuple[TaskContext, CommandAction, str]:
    src = tmp_path / "in" / rel
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text("hello\n")
    out_dir = str(tmp_path / "out")
    action = CommandAction("cp {} {out}")
    final = action.out_path_for(out_dir, str(tmp_path / "in"), rel, False)
    assert final is not None
    ctx = TaskContext(str(src), str(tmp_path / "in"), rel, 6, 0, out_dir, final)
    return ctx, action, final


def test_out_is_a_temp_beside_the_final_with_same_extension(tmp_path: Path) -> None:
    ctx, action, final = _out_ctx(tmp_path, "sub/deep/report.tar.gz")
    prepared = action.prepare(ctx)
    assert isinstance(prepared, PreparedCommand)
    assert prepared.out_final == final
    assert prepared.out_tmp is not None
    assert os.path.dirname(prepared.out_tmp) == os.path.dirname(final)  # folders created
    assert os.path.isdir(os.path.dirname(final))
    assert prepared.out_tmp.endswith(".tar.gz")
    assert os.path.basename(prepared.out_tmp).startswith(".report")
    assert prepared.argv == ["cp", ctx.path, prepared.out_tmp]
    subprocess.run(prepared.argv, check=True)
    action.finish(prepared, True)
    assert Path(final).read_text() == "hello\n"
    assert not os.path.exists(prepared.out_tmp)


def test_dry_run_touches_nothing(tmp_path: Path) -> None:
    ctx, action, final = _out_ctx(tmp_path, "sub/a.txt")
    prepared = action.prepare(ctx, dry_run=True)
    assert prepared.out_final == final and prepared.out_tmp is not None
    assert prepared.argv == ["cp", ctx.path, prepared.out_tmp]
    assert not (tmp_path / "out").exists()
    action.finish(prepared, False)
    assert not (tmp_path / "out").exists()


def test_out_removed_on_failure(tmp_path: Path) -> None:
    ctx, action, final = _out_ctx(tmp_path, "a.txt")
    prepared = action.prepare(ctx)
    subprocess.run(prepared.argv, check=True)
    assert prepared.out_tmp is not None and os.path.exists(prepared.out_tmp)
    action.finish(prepared, False)
    assert not os.path.exists(prepared.out_tmp)
    assert not os.path.exists(final)
    assert os.listdir(os.path.dirname(final)) == []


def test_out_not_written_by_command_is_fine(tmp_path: Path) -> None:
    ctx, _, final = _out_ctx(tmp_path, "a.txt")
    action = CommandAction("true {} {out}")
    prepared = action.prepare(ctx)
    action.finish(prepared, True)
    assert not os.path.exists(final)


def test_out_with_shell_redirect(tmp_path: Path) -> None:
    rel = "$(touch PWNED) x.txt"
    ctx, _, final = _out_ctx(tmp_path, rel)
    action = CommandAction("tr a-z A-Z < {} > {out}", shell=True)
    prepared = action.prepare(ctx)
    subprocess.run(prepared.argv, check=True, cwd=tmp_path)
    action.finish(prepared, True)
    assert Path(final).read_text() == "HELLO\n"
    assert not (tmp_path / "PWNED").exists()


def test_out_refused_when_unsafe(tmp_path: Path) -> None:
    ctx, action, _ = _out_ctx(tmp_path, "a.txt")
    # output folder == input folder: the output would be the input
    same = TaskContext(ctx.path, ctx.root, "a.txt", 6, 0, ctx.root, ctx.path)
    with pytest.raises(OutputError):
        action.prepare(same)
    # a symlink planted in the output tree
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(outside)
    bad = TaskContext(ctx.path, ctx.root, "sub/a.txt", 6, 0, ctx.out_dir,
                      str(tmp_path / "out" / "sub" / "a.txt"))
    with pytest.raises(OutputError):
        action.prepare(bad)
    assert os.listdir(outside) == []
    # no output path at all
    with pytest.raises(OutputError):
        action.prepare(TaskContext(ctx.path, ctx.root, "a.txt"))


def test_finish_onto_a_folder_fails_cleanly(tmp_path: Path) -> None:
    ctx, action, final = _out_ctx(tmp_path, "a.txt")
    prepared = action.prepare(ctx)
    os.makedirs(final)
    (Path(final) / "keep").write_text("x")
    subprocess.run(prepared.argv, check=True)
    with pytest.raises(OutputError):
        action.finish(prepared, True)
    assert prepared.out_tmp is not None and not os.path.exists(prepared.out_tmp)


# -- speed ------------------------------------------------------------------------------------


def test_prepare_is_fast() -> None:
    action = CommandAction("convert {} -resize 50% out/{/.}.png --meta={//}")
    ctx = ctx_for("some/folder/with/a/file name.jpg")
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        action.prepare(ctx)
    per_call = (time.perf_counter() - t0) / n
    assert per_call < 50e-6, f"prepare took {per_call * 1e6:.1f} us"
