"""Regression tests for issue 7, items 2, 3, 7 (temporary outputs), 12 and 24.

Each test runs the real ``tui-batch`` command in a fresh process (see tests/conftest.py for why),
except the TUI preview checks, which drive the preview screen with Textual's pilot.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd

PY = sys.executable


def tb(*args: str, env: dict[str, str], cwd: Path | None = None,
       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, errors="replace")


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one stderr line of a refused command (and no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def temp_like(folder: Path) -> list[str]:
    """Every name under folder that contains the temporary-output marker."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tbtmp-" in p.name)


# -- item 2: {out.EXT}, and templates that glue text to {out} -------------------------------------


@pytest.mark.parametrize(
    ("shell", "template", "hint"),
    [
        (False, "cp {} {out}.txt", "{out.txt}"),
        (True, "cp {} {out}.txt", "{out.txt}"),
        (True, 'cp {} "{out}".txt', "{out.txt}"),
        (False, "cp {} x{out}", "{out.txt}"),
        (True, "cp {} x{out}", "{out.txt}"),
    ],
)
def test_item2_text_glued_to_out_is_refused(tmp_path: Path, cli_env: dict[str, str],
                                            shell: bool, template: str, hint: str) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.pdf").write_text("pdf")
    out = tmp_path / "out"
    args = ["run", str(tree), "--exec", template, "--out", str(out), "--headless"]
    if shell:
        args.append("--shell")
    line = error_line(tb(*args, env=cli_env))
    assert line.startswith("tui-batch: error: --exec: ")
    assert hint in line
    assert not out.exists()  # refused before anything was written


def test_item2_out_ext_changes_the_extension(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.pdf").write_text("first")
    (tree / "sub" / "b.tar.gz").write_text("second")
    (tree / "README").write_text("third")
    out = tmp_path / "out"
    dry = tb("run", str(tree), "--exec", "cp {} {out.txt}", "--out", str(out), "--dry-run",
             "--json", env=cli_env)
    assert dry.returncode == 0, dry.stderr
    plans = {Path(e["path"]).name: e for e in json_lines(dry.stdout) if e["event"] == "plan"}
    assert plans["a.pdf"]["out"] == str(out / "a.txt")
    # the dry run shows the real output name, not a temporary one
    assert plans["a.pdf"]["argv"] == ["cp", str(tree / "a.pdf"), str(out / "a.txt")]
    assert not out.exists()

    proc = tb("run", str(tree), "--exec", "cp {} {out.txt}", "--out", str(out), "--headless",
              env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert (out / "a.txt").read_text() == "first"
    assert (out / "sub" / "b.tar.txt").read_text() == "second"  # like {.}: last extension
    assert (out / "README.txt").read_text() == "third"
    assert temp_like(out) == []
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "README.txt", "a.txt", "sub/b.tar.txt"]


def test_item2_option_value_forms_still_work(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """``of={out}`` / ``--output={out}``: the program writes exactly {out}, so it stays allowed."""
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.bin").write_bytes(b"data")
    out = tmp_path / "out"
    proc = tb("run", str(tree), "--exec", "dd if={} of={out.copy} status=none", "--out",
              str(out), "--headless", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert (out / "a.copy").read_bytes() == b"data"
    assert temp_like(out) == []


def test_item2_out_as_a_folder_still_works(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """``{out}/...``: the command makes {out} a folder; it moves into place as a whole."""
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.txt").write_text("data")
    out = tmp_path / "out"
    proc = tb("run", str(tree), "--shell", "--exec", "mkdir {out} && cp {} {out}/copy",
              "--out", str(out), "--headless", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert (out / "a.txt" / "copy").read_text() == "data"
    assert temp_like(out) == []


@pytest.mark.parametrize(
    ("template", "field_text"),
    [
        ("cp {} {out.txt} {out.md}", "one output"),
        ("cp {} {out} {out.md}", "one output"),
        ("cp {} {out.}", "{out.EXT}"),
        ("cp {} {out.a/b}", "{out.EXT}"),
    ],
)
def test_item2_bad_out_ext_forms_refused(tmp_path: Path, cli_env: dict[str, str],
                                         template: str, field_text: str) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a").write_text("x")
    line = error_line(tb("run", str(tree), "--exec", template, "--out", str(tmp_path / "o"),
                         env=cli_env))
    assert line.startswith("tui-batch: error: --exec: ")
    assert field_text in line


# -- item 3: appending the path, and saying so -------------------------------------------------


def test_item3_shell_script_using_dollar_one_gets_nothing_appended(
        tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a b.txt").write_text("hello world\n")
    (tree / "-n.txt").write_text("second line\n")
    for script in ('printf "%s|\\n" "$1" >> LOG', 'printf "%s|\\n" "$@" >> LOG',
                   'printf "%s|\\n" "${{1}}" >> LOG',
                   'for f in "$*"; do printf "%s|\\n" "$f"; done >> LOG'):
        log = tmp_path / "log.txt"
        log.unlink(missing_ok=True)
        proc = tb("run", str(tree), "--shell", "--exec", script.replace("LOG", str(log)),
                  "--headless", "-j", "1", "--no-dedupe", env=cli_env)
        assert proc.returncode == 0, (script, proc.stderr)
        assert "note:" not in proc.stdout + proc.stderr, script
        lines = sorted(log.read_text().splitlines())
        assert lines == sorted([f"{tree}/-n.txt|", f"{tree}/a b.txt|"]), script


def test_item3_single_quoted_dollar_one_still_appends(tmp_path: Path,
                                                      cli_env: dict[str, str]) -> None:
    """``awk '{print $1}'``: that $1 is awk's, not the shell's, so the path is appended."""
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.txt").write_text("hello world\n")
    proc = tb("run", str(tree), "--shell", "--exec", "awk '{{print $1}}'", "--headless",
              "--json", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    notes = [e for e in json_lines(proc.stdout) if e.get("event") == "note"]
    assert notes and "awk '{{print $1}}' {}" in notes[0]["message"]
    task = next(e for e in json_lines(proc.stdout) if e.get("event") == "task")
    assert task["state"] == "done"


def test_item3_appended_path_is_announced(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.txt").write_text("x")
    note = "note: no placeholder in the template; the path is appended: sleep 0.01 {}"

    dry = tb("run", str(tree), "--exec", "sleep 0.01", "--dry-run", env=cli_env)
    assert dry.returncode == 0, dry.stderr
    assert note in dry.stderr
    assert f"sleep 0.01 {tree}/a.txt" in dry.stdout

    dry_json = tb("run", str(tree), "--exec", "sleep 0.01", "--dry-run", "--json", env=cli_env)
    assert json_lines(dry_json.stdout)[-1]["notes"] == [note]

    # the case: `sleep 0.01 PATH` fails, and the first progress line says why
    run = tb("run", str(tree), "--exec", "sleep 0.01", "--headless", env=cli_env)
    assert run.returncode == 1, run.stderr
    # messages go to stderr (stdout is the tasks' output): the note comes once
    assert f"tui-batch: {note}" in run.stderr.splitlines()
    assert run.stderr.count("note:") == 1 and "note:" not in run.stdout

    run_json = tb("run", str(tree), "--exec", "sleep 0.01", "--json", env=cli_env)
    events = [e for e in json_lines(run_json.stdout) if e["event"] != "progress"]
    assert events[0] == {"event": "note", "job": events[-1]["job"], "message": note}

    quiet = tb("run", str(tree), "--exec", "sleep 0.01 {}", "--dry-run", env=cli_env)
    assert "note:" not in quiet.stdout + quiet.stderr


def test_item3_append_note_is_one_function() -> None:
    from tui_batch.actions import append_note
    from tui_batch.model import ActionSpec

    assert append_note(ActionSpec(template="wc -l")) == (
        "note: no placeholder in the template; the path is appended: wc -l {}")
    assert append_note(ActionSpec(template="wc -l {}")) is None
    assert append_note(ActionSpec(template='wc -l "$1"', shell=True)) is None
    assert append_note(ActionSpec(template="echo '$1' \\$1", shell=True)) is not None
    assert append_note(ActionSpec(name="copy")) is None


# -- item 7: leftover temporary outputs after kill -9 ---------------------------------------------


def _lookalikes(out: Path) -> list[Path]:
    """A user's own files that merely contain '.tbtmp-' (or are a live process's temp)."""
    from tui_batch.actions.output import temp_output_path

    live = temp_output_path(str(out / "big0.bin"), pid=os.getpid())  # this process is alive
    paths = [out / "notes.tbtmp-0123456789.txt", out / ".big0.tbtmp-backup.bin",
             out / ".other.tbtmp-aaaaaaaaaa.bin", out / ".big1.bin.tbtmp-x", Path(live)]
    for p in paths:
        p.write_text("mine")
    return paths


def _wait_for(predicate: Any, proc: subprocess.Popen[str], what: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what}"
        time.sleep(0.001)


@pytest.mark.slow
def test_item7_resume_removes_own_leftovers_after_kill(tmp_path: Path,
                                                       cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    size = 128 << 20
    for i in range(6):
        with open(tree / f"big{i}.bin", "wb") as f:
            f.write(bytes([i + 1]) * 4096)
            f.truncate(size)
            f.seek(size - 1)
            f.write(b"\1")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "--action", "copy", "--out",
                             str(out), "-j", "2", "--headless"], env=cli_env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: any(".tbtmp-" in n for n in os.listdir(out)), proc, "temp output")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    left = temp_like(out)
    assert left, "the kill came too late to leave a temporary output"
    mine = _lookalikes(out)

    res = tb("resume", "1", "--headless", env=cli_env)
    assert res.returncode == 0, res.stderr
    assert sorted(temp_like(out)) == sorted(str(p.relative_to(out)) for p in mine
                                            if ".tbtmp-" in p.name)
    for p in mine:
        assert p.read_text() == "mine"
    for i in range(6):
        assert (out / f"big{i}.bin").stat().st_size == size


def test_item7_new_run_removes_half_written_template_output(tmp_path: Path,
                                                            cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.txt").write_text("complete content")
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    script = f"head -c 4 {{}} > {{out}}; echo $$ > {ready}; exec sleep 60"
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "--shell", "--exec", script,
                             "--out", str(out), "--headless"], env=cli_env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = 0
    try:
        _wait_for(lambda: ready.exists() and ready.read_text().strip(), proc, "the command")
        child = int(ready.read_text())
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
    assert len(temp_like(out)) == 1  # the half-written output
    mine = out / "a.tbtmp-1234567890.txt"
    mine.write_text("mine")

    again = tb("run", str(tree), "--exec", "cp {} {out}", "--out", str(out), "--headless",
               env=cli_env)
    assert again.returncode == 0, again.stderr
    assert temp_like(out) == [mine.name]
    assert (out / "a.txt").read_text() == "complete content"


def test_item7_temp_names_carry_the_writer() -> None:
    from tui_batch.actions.output import temp_output_path, temp_owner

    tmp = os.path.basename(temp_output_path("/o/report.tar.gz", pid=4321))
    assert temp_owner(tmp, "report.tar.gz") == 4321
    assert temp_owner(tmp, "report.tar") is None
    assert temp_owner(".report.tbtmp-backup.tar.gz", "report.tar.gz") is None
    long = "é" * 200 + ".txt"
    tmp = os.path.basename(temp_output_path("/o/" + long, pid=7))
    assert len(os.fsencode(tmp)) <= 255 and temp_owner(tmp, long) == 7


# -- item 12: one output per input means no dedupe by default --------------------------------------


def _dup_tree(root: Path) -> Path:
    root.mkdir()
    (root / "a.txt").write_text("same content")
    (root / "b.txt").write_text("same content")
    (root / "c.txt").write_text("unique")
    return root


@pytest.mark.parametrize("how", [["--action", "copy"], ["--action", "gzip"],
                                 ["--exec", "cp {} {out}"]])
def test_item12_output_actions_write_every_duplicate(tmp_path: Path, cli_env: dict[str, str],
                                                     how: list[str]) -> None:
    tree = _dup_tree(tmp_path / "in")
    out = tmp_path / "out"
    dry = tb("run", str(tree), *how, "--out", str(out), "--dry-run", env=cli_env)
    assert dry.returncode == 0, dry.stderr
    assert "skip (duplicate" not in dry.stdout
    assert "dedupe off:" in dry.stderr and "one output per file" in dry.stderr
    proc = tb("run", str(tree), *how, "--out", str(out), "--headless", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    suffix = ".gz" if "gzip" in how else ""
    assert names == [f"a.txt{suffix}", f"b.txt{suffix}", f"c.txt{suffix}"]


def test_item12_explicit_dedupe_still_skips(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = _dup_tree(tmp_path / "in")
    out = tmp_path / "out"
    dry = tb("run", str(tree), "--action", "copy", "--out", str(out), "--dedupe", "--dry-run",
             "--json", env=cli_env)
    assert dry.returncode == 0, dry.stderr
    summary = json_lines(dry.stdout)[-1]
    assert summary["duplicates"] == 1 and summary["dedupe"] is True
    assert any(n.startswith("dedupe on:") for n in summary["notes"])
    proc = tb("run", str(tree), "--action", "copy", "--out", str(out), "--dedupe", "--headless",
              env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "c.txt"]


def test_item12_actions_without_outputs_keep_dedupe_on(tmp_path: Path,
                                                        cli_env: dict[str, str]) -> None:
    tree = _dup_tree(tmp_path / "in")
    dry = tb("run", str(tree), "--exec", "true {}", "--dry-run", "--json", env=cli_env)
    summary = json_lines(dry.stdout)[-1]
    assert summary["duplicates"] == 1 and summary["dedupe"] is True
    assert summary.get("notes", []) == []


# -- items 3 and 12 in the TUI preview -------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_item3_item12_tui_preview_says_so(tmp_path: Path, anyio_backend: str) -> None:
    from textual.widgets import Static

    from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
    from tui_batch.ui.app import BatchApp
    from tui_batch.ui.screens.preview import PreviewScreen

    tree = _dup_tree(tmp_path / "in")
    cases = [
        (ActionSpec(template="wc -c"), EngineSettings(),
         "note: no placeholder in the template; the path is appended: wc -c {}"),
        (ActionSpec(name="copy"), EngineSettings(out_dir=str(tmp_path / "out")),
         "dedupe off: copy writes one output per file"),
    ]
    for action, settings, expected in cases:
        spec = JobSpec(filter=FilterSpec(roots=[str(tree)]), action=action, settings=settings)
        app = BatchApp(db=str(tmp_path / "j.db"), deterministic=True, start="jobs")
        async with app.run_test(size=(100, 30)) as pilot:
            screen = PreviewScreen(spec)
            app.push_screen(screen)
            deadline = time.monotonic() + 10
            while screen.plan is None:
                assert time.monotonic() < deadline, "no preview"
                await pilot.pause(0.02)
            await pilot.pause()
            assert any(expected in n for n in screen.notes())
            text = str(screen.query_one("#preview-notes", Static).content)
            assert expected in text


# -- item 24: relative PATH entries --------------------------------------------------------------


def _plant(cwd: Path, marker: Path) -> None:
    cwd.mkdir()
    for name in ("sh", "cat"):
        p = cwd / name
        p.write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        p.chmod(0o755)


@pytest.mark.parametrize("path_of", [lambda p: ".:" + p, lambda p: ":/usr/bin:/bin",
                                     lambda p: p + ":bin"], ids=["dot", "empty", "relative"])
def test_item24_relative_path_entry_refused(tmp_path: Path, cli_env: dict[str, str],
                                            path_of: Any) -> None:
    cwd = tmp_path / "cwd"
    marker = tmp_path / "PLANTED-RAN"
    _plant(cwd, marker)
    (cwd / "bin").mkdir()
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.txt").write_text("x")
    env = {**cli_env, "PATH": path_of(cli_env.get("PATH", "/usr/bin:/bin"))}
    for args in (["--exec", "cat {}"], ["--exec", "cat {}", "--dry-run"],
                 ["--shell", "--exec", "cat {}", "--dry-run"], ["--shell", "--exec", "cat {}"]):
        proc = tb("run", str(tree), *args, "--headless", env=env, cwd=cwd)
        line = error_line(proc)
        assert line.startswith("tui-batch: error: PATH: relative entry "), line
        assert not marker.exists(), (args, marker.read_text())
    # a command given by its path needs no PATH lookup: it runs
    ok = tb("run", str(tree), "--exec", "/bin/cat {}", "--headless", env=env, cwd=cwd)
    assert ok.returncode == 0, ok.stderr
    assert not marker.exists()


def test_item7_cleanup_is_exact(tmp_path: Path) -> None:
    """Only dead writers' temporaries of the job's own outputs, never through a symlink."""
    from tui_batch.actions import resolve_action
    from tui_batch.actions.leftovers import remove_leftovers
    from tui_batch.actions.output import temp_output_path
    from tui_batch.model import ActionSpec

    proc = subprocess.Popen(["true"])  # a pid that existed and is gone
    proc.wait()
    dead = proc.pid
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (out / "link").symlink_to(outside)
    long = "n" * 250 + ".txt"
    ours = [temp_output_path(str(out / "sub" / "a.txt"), pid=dead),
            temp_output_path(str(out / long), pid=dead)]
    kept = [temp_output_path(str(out / "sub" / "not-in-job.txt"), pid=dead),
            temp_output_path(str(out / "sub" / "a.txt"), pid=os.getpid()),
            temp_output_path(str(outside / "b.txt"), pid=dead)]
    for p in ours + kept:
        Path(p).write_text("x")
    action = resolve_action(ActionSpec(name="copy"))
    inputs = [("/in", "sub/a.txt"), ("/in", long), ("/in", "link/b.txt")]
    assert remove_leftovers(action, str(out), inputs, False) == 2
    assert not any(os.path.exists(p) for p in ours)
    assert all(os.path.exists(p) for p in kept)
