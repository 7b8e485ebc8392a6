"""The scanner on real trees: order, filters, pruning, ignore files, symlinks, loops,
permissions, odd names. No mocks: every case is a real file system situation."""

from __future__ import annotations

import ast
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_batch.model import FileEntry, FilterSpec
from tui_batch.select import ScanIssue, filter_from_options, scan, scan_all


def make(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def rels(spec: FilterSpec) -> list[str]:
    return [e.rel for e in scan(spec)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    make(root / "b.txt", b"bb")
    make(root / "a.log", b"a" * 2000)
    make(root / "sub" / "z.log", b"z")
    make(root / "sub" / "deep" / "y.LOG", b"y" * 5000)
    make(root / "sub" / "c.csv", b"c")
    make(root / "other" / "x.log", b"x" * 1500)
    make(root / ".hidden" / "h.log", b"h" * 3000)
    make(root / ".dot.log", b"d" * 3000)
    return root


@pytest.fixture
def scandir_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every folder the scanner lists (a spy around the real os.scandir)."""
    calls: list[str] = []
    real = os.scandir

    def spy(path: Any = ".") -> Any:
        calls.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    return calls


# ---------------------------------------------------------------------------------------------
# basics


def test_order_and_fields(tree: Path) -> None:
    entries = list(scan(FilterSpec(roots=[str(tree)])))
    # files of a folder (sorted), then its sub-folders (sorted), depth first
    assert [e.rel for e in entries] == [
        "a.log",
        "b.txt",
        "other/x.log",
        "sub/c.csv",
        "sub/z.log",
        "sub/deep/y.LOG",
    ]
    for e in entries:
        st = os.stat(e.path)
        assert e.root == str(tree)
        assert e.path == os.path.join(str(tree), e.rel)
        assert (e.size, e.mtime_ns, e.dev, e.ino) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_dev,
            st.st_ino,
        )
    assert entries == list(scan(FilterSpec(roots=[str(tree)])))  # deterministic


def test_dot_root_gives_dot_paths(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    paths = [e.path for e in scan(FilterSpec(roots=["."], extensions=[".csv"]))]
    assert paths == ["./sub/c.csv"]


def test_ext_size_and_time_filters(tree: Path) -> None:
    assert rels(filter_from_options([str(tree)], ext=["log"])) == [
        "a.log",
        "other/x.log",
        "sub/z.log",
        "sub/deep/y.LOG",
    ]
    assert rels(filter_from_options([str(tree)], ext=["log"], min_size="1025")) == [
        "a.log",
        "other/x.log",
        "sub/deep/y.LOG",
    ]
    assert rels(filter_from_options([str(tree)], min_size="1500", max_size="2000")) == [
        "a.log",
        "other/x.log",
    ]
    old = tree / "b.txt"
    os.utime(old, (1_000_000_000, 1_000_000_000))
    assert rels(filter_from_options([str(tree)], older="2010-01-01")) == ["b.txt"]
    assert "b.txt" not in rels(filter_from_options([str(tree)], newer="2010-01-01"))


def test_name_regex_and_exclude_re(tree: Path) -> None:
    assert rels(filter_from_options([str(tree)], name=r"^[xy]")) == [
        "other/x.log",
        "sub/deep/y.LOG",
    ]
    assert rels(filter_from_options([str(tree)], exclude_re=[r"^sub/"])) == [
        "a.log",
        "b.txt",
        "other/x.log",
    ]


def test_hidden(tree: Path) -> None:
    assert ".dot.log" not in rels(FilterSpec(roots=[str(tree)]))
    got = rels(FilterSpec(roots=[str(tree)], hidden=True))
    assert ".dot.log" in got
    assert ".hidden/h.log" in got


def test_hidden_root_is_scanned(tree: Path) -> None:
    assert rels(FilterSpec(roots=[str(tree / ".hidden")])) == ["h.log"]


def test_deep_tree_has_no_recursion_limit(tmp_path: Path) -> None:
    depth = sys.getrecursionlimit() + 200
    deep = str(tmp_path)
    for _ in range(depth):  # os.makedirs / Path.mkdir(parents=True) recurse themselves
        deep += "/d"
        os.mkdir(deep)
    bottom = make(Path(deep) / "bottom.txt")
    try:
        entries = list(scan(FilterSpec(roots=[str(tmp_path)])))
        assert [e.rel.count("/") for e in entries] == [depth]
    finally:  # pytest's own clean-up (shutil.rmtree) recurses and would fail on this tree
        bottom.unlink()
        while deep != str(tmp_path):
            os.rmdir(deep)
            deep = os.path.dirname(deep)


def test_scan_all_and_multiple_roots(tree: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    make(second / "s.log")
    entries, issues = scan_all(FilterSpec(roots=[str(second), str(tree)], extensions=[".log"]))
    assert issues == []
    assert [(e.root, e.rel) for e in entries][:2] == [(str(second), "s.log"), (str(tree), "a.log")]


def test_root_that_is_a_file(tree: Path) -> None:
    f = tree / "sub" / "c.csv"
    entries = list(scan(FilterSpec(roots=[str(f)])))
    assert len(entries) == 1
    e = entries[0]
    assert (e.path, e.root, e.rel, e.size) == (str(f), str(tree / "sub"), "c.csv", 1)
    # its own rules still apply: extension, name, size
    assert list(scan(FilterSpec(roots=[str(f)], extensions=[".log"]))) == []


def test_missing_root_is_reported(tmp_path: Path) -> None:
    entries, issues = scan_all(FilterSpec(roots=[str(tmp_path / "gone")]))
    assert entries == []
    assert [i.kind for i in issues] == ["missing"]


def test_overlapping_roots_list_each_file_once(tree: Path) -> None:
    entries, issues = scan_all(FilterSpec(roots=[str(tree), str(tree / "sub")]))
    paths = [os.path.realpath(e.path) for e in entries]
    assert len(paths) == len(set(paths)) == 6
    assert [i.kind for i in issues] == ["revisit"]


def test_cancel_stops_promptly(tmp_path: Path) -> None:
    for d in range(50):
        for f in range(5):
            make(tmp_path / f"d{d:02}" / f"f{f}.txt")
    cancel = threading.Event()
    got: list[FileEntry] = []
    for e in scan(FilterSpec(roots=[str(tmp_path)]), cancel=cancel):
        got.append(e)
        if len(got) == 3:
            cancel.set()
    assert len(got) == 3


# ---------------------------------------------------------------------------------------------
# pruning


def test_excluded_folders_are_never_listed(tree: Path, scandir_calls: list[str]) -> None:
    spec = filter_from_options([str(tree)], exclude=["deep", "other/"])
    assert rels(spec) == ["a.log", "b.txt", "sub/c.csv", "sub/z.log"]
    listed = {os.path.relpath(c, tree) for c in scandir_calls}
    assert listed == {".", "sub"}


def test_exact_path_exclude_prunes_only_that_path(
    tree: Path, monkeypatch: pytest.MonkeyPatch, scandir_calls: list[str]
) -> None:
    make(tree / "other" / "deep" / "q.txt")
    monkeypatch.chdir(tree)
    spec = filter_from_options(["."], exclude=["sub/deep"])
    assert "other/deep/q.txt" in rels(spec)
    assert "./sub/deep" not in scandir_calls
    assert "./other/deep" in scandir_calls


def test_hidden_folders_are_never_listed(tree: Path, scandir_calls: list[str]) -> None:
    list(scan(FilterSpec(roots=[str(tree)])))
    assert str(tree / ".hidden") not in scandir_calls


def test_exclude_glob_on_files(tree: Path) -> None:
    # globs are case-sensitive like gitignore on Linux (--ext is the case-insensitive one)
    assert rels(filter_from_options([str(tree)], exclude=["*.log"])) == [
        "b.txt",
        "sub/c.csv",
        "sub/deep/y.LOG",
    ]


# ---------------------------------------------------------------------------------------------
# ignore files


def test_ignore_files_nested(tmp_path: Path, scandir_calls: list[str]) -> None:
    root = tmp_path / "repo"
    make(root / ".gitignore", b"*.tmp\nbuild/\n/top-only.txt\n")
    make(root / "keep.txt")
    make(root / "x.tmp")
    make(root / "top-only.txt")
    make(root / "build" / "out.bin")
    make(root / "a" / "top-only.txt")  # '/top-only.txt' is anchored to the root
    make(root / "a" / "y.tmp")
    make(root / "a" / ".gitignore", b"!y.tmp\n")  # nested file re-includes, for its subtree
    make(root / "a" / "b" / "z.tmp")  # still ignored: the re-include names y.tmp only
    make(root / "c" / "w.tmp")  # sibling subtree: the nested rule does not apply
    make(root / "c" / ".ignore", b"secret.txt\n")
    make(root / "c" / "secret.txt")
    make(root / "c" / ".tbignore", b"!secret.txt\nmine.txt\n")  # .tbignore wins over .ignore
    make(root / "c" / "mine.txt")
    make(root / "c" / "d" / "secret.txt")
    got = rels(FilterSpec(roots=[str(root)]))
    assert got == [
        "keep.txt",
        "a/top-only.txt",
        "a/y.tmp",
        "c/secret.txt",
        "c/d/secret.txt",
    ]
    assert str(root / "build") not in scandir_calls  # ignored folders are pruned
    # without ignore files, everything (but hidden files) is there
    all_files = rels(FilterSpec(roots=[str(root)], use_ignore=False))
    assert "build/out.bin" in all_files
    assert "x.tmp" in all_files
    assert "c/mine.txt" in all_files
    assert len(all_files) == 11


def test_ignore_file_with_non_utf8_pattern(tmp_path: Path) -> None:
    broot = os.fsencode(tmp_path)
    with open(os.path.join(broot, b"caf\xe9.txt"), "wb"):
        pass
    with open(os.path.join(broot, b"ok.txt"), "wb"):
        pass
    with open(os.path.join(broot, b".gitignore"), "wb") as f:
        f.write(b"caf\xe9.txt\n")
    assert rels(FilterSpec(roots=[str(tmp_path)])) == ["ok.txt"]


# ---------------------------------------------------------------------------------------------
# symlinks and loops


def test_symlinks_skipped_without_follow(tmp_path: Path) -> None:
    make(tmp_path / "real" / "f.txt")
    (tmp_path / "dirlink").symlink_to(tmp_path / "real")
    (tmp_path / "filelink.txt").symlink_to(tmp_path / "real" / "f.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "nowhere")
    entries, issues = scan_all(FilterSpec(roots=[str(tmp_path)]))
    assert [e.rel for e in entries] == ["real/f.txt"]
    assert issues == []


def test_symlinks_followed(tmp_path: Path) -> None:
    make(tmp_path / "real" / "f.txt", b"12345")
    ext = tmp_path.parent / (tmp_path.name + "-outside")
    make(ext / "o.txt")
    (tmp_path / "a-link").symlink_to(ext)
    (tmp_path / "filelink.txt").symlink_to(tmp_path / "real" / "f.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "nowhere")
    entries, issues = scan_all(FilterSpec(roots=[str(tmp_path)], follow=True))
    by_rel = {e.rel: e for e in entries}
    assert list(by_rel) == ["filelink.txt", "a-link/o.txt", "real/f.txt"]
    # a followed file link reports its target's stat: dedupe sees it as the same file
    assert by_rel["filelink.txt"].ino == by_rel["real/f.txt"].ino
    assert by_rel["filelink.txt"].size == 5
    assert [(i.kind, os.path.basename(i.path)) for i in issues] == [("broken-link", "broken.txt")]


def test_symlink_loop_terminates_and_is_reported(tmp_path: Path) -> None:
    make(tmp_path / "a" / "b" / "f.txt")
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a")  # a/b/up -> a: a cycle
    (tmp_path / "a" / "self").symlink_to("self")  # a link to itself (ELOOP)
    entries, issues = scan_all(FilterSpec(roots=[str(tmp_path)], follow=True))
    assert [e.rel for e in entries] == ["a/b/f.txt"]
    kinds = sorted((i.kind, os.path.relpath(i.path, tmp_path)) for i in issues)
    assert kinds == [("broken-link", "a/self"), ("loop", "a/b/up")]


def test_root_symlink_loop_to_root(tmp_path: Path) -> None:
    make(tmp_path / "f.txt")
    (tmp_path / "again").symlink_to(".")
    entries, issues = scan_all(FilterSpec(roots=[str(tmp_path)], follow=True))
    assert [e.rel for e in entries] == ["f.txt"]
    assert [i.kind for i in issues] == ["loop"]


def test_many_links_to_one_folder_no_exponential_walk(tmp_path: Path) -> None:
    # each level links twice to the next: without a visited set this is 2**12 walks
    levels = 12
    for i in range(levels):
        make(tmp_path / f"l{i}" / f"f{i}.txt")
    for i in range(levels - 1):
        for j in (1, 2):
            (tmp_path / f"l{i}" / f"to{j}").symlink_to(tmp_path / f"l{i + 1}")
    entries, issues = scan_all(FilterSpec(roots=[str(tmp_path)], follow=True))
    assert len(entries) == levels
    assert len({e.ino for e in entries}) == levels
    assert all(i.kind in {"revisit"} for i in issues)


# ---------------------------------------------------------------------------------------------
# permissions


def _scan_as_nobody(cwd: Path, spec: FilterSpec) -> tuple[list[str], list[tuple[str, str]]]:
    """Run a scan in a forked child that dropped root, since root ignores permissions.

    The child enters ``cwd`` while still root (pytest's temp folders are 0700), then becomes
    uid/gid 65534 and scans relative paths: the permission checks below are the kernel's.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(r)
            os.chdir(cwd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            entries, issues = scan_all(spec)
            out = repr(([e.rel for e in entries], [(i.kind, i.path) for i in issues]))
            os.write(w, out.encode("utf-8", "surrogateescape"))
            code = 0
        except BaseException as exc:
            os.write(w, repr(exc).encode())
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "surrogateescape")
    assert os.waitstatus_to_exitcode(status) == 0, text
    result: tuple[list[str], list[tuple[str, str]]] = ast.literal_eval(text)
    return result


def test_permission_denied_is_reported_and_skipped(tmp_path: Path) -> None:
    root = tmp_path / "t"
    make(root / "ok" / "f.txt")
    make(root / "locked" / "secret.txt")
    make(root / "z.txt")
    for d in (root, root / "ok"):
        d.chmod(0o755)
    for f in (root / "ok" / "f.txt", root / "z.txt"):
        f.chmod(0o644)
    (root / "locked").chmod(0)
    try:
        spec = FilterSpec(roots=["."])
        if os.geteuid() == 0:
            list(scan(spec))  # warm any lazy imports before the child drops privileges
            got, issues = _scan_as_nobody(root, spec)
        else:
            prev = os.getcwd()
            os.chdir(root)
            try:
                entries, found = scan_all(spec)
            finally:
                os.chdir(prev)
            got = [e.rel for e in entries]
            issues = [(i.kind, i.path) for i in found]
    finally:
        (root / "locked").chmod(0o755)
    assert got == ["z.txt", "ok/f.txt"]
    assert issues == [("permission", "./locked")]


# ---------------------------------------------------------------------------------------------
# names


def test_non_utf8_names_round_trip(tmp_path: Path) -> None:
    broot = os.fsencode(tmp_path)
    bdir = os.path.join(broot, b"dir-\xff\xfe")
    os.mkdir(bdir)
    names = [os.path.join(bdir, b"caf\xe9.txt"), os.path.join(broot, b"\x80\x81.log")]
    for n in names:
        with open(n, "wb") as f:
            f.write(b"data")
    entries = list(scan(FilterSpec(roots=[str(tmp_path)])))
    assert sorted(os.fsencode(e.path) for e in entries) == sorted(names)
    for e in entries:
        assert os.path.exists(e.path)  # the str goes back to the OS as it is
        assert os.fsencode(os.path.join(e.root, e.rel)) == os.fsencode(e.path)


def test_odd_but_valid_names(tmp_path: Path) -> None:
    odd = ["$(touch x);.txt", "-rf", "with space.txt", "new\nline.txt", "*.txt", "ü.txt"]
    for n in odd:
        make(tmp_path / n)
    assert sorted(rels(FilterSpec(roots=[str(tmp_path)]))) == sorted(odd)


# ---------------------------------------------------------------------------------------------
# issues callback


def test_on_issue_receives_scan_issues(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(".")
    got: list[ScanIssue] = []
    list(scan(FilterSpec(roots=[str(tmp_path)], follow=True), on_issue=got.append))
    assert [i.kind for i in got] == ["loop"]
    assert got[0].message


def _walk(it: Iterator[FileEntry], f: Callable[[FileEntry], None]) -> None:
    for e in it:
        f(e)


def test_fifo_and_special_files_are_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    make(tmp_path / "real.txt")
    seen: list[str] = []
    _walk(scan(FilterSpec(roots=[str(tmp_path)])), lambda e: seen.append(e.rel))
    assert seen == ["real.txt"]
