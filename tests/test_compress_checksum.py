"""compress / decompress (gzip, zstd), checksum (algorithms, sidecars, manifest) and verify,
checked against the real gzip, zstd, sha256sum and md5sum where it matters."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import xxhash
import zstandard

from tests.conftest import tui_batch_cmd
from tui_batch.actions import ActionError, PythonAction, TaskContext, make_context, resolve_action
from tui_batch.engine import TaskEvent
from tui_batch.errors import InputError
from tui_batch.jobs import JobRunner, create_job, plan_job
from tui_batch.model import ActionSpec, EngineSettings, FileEntry, FilterSpec, JobSpec, TaskState
from tui_batch.store import Store


def tb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, capture_output=True, timeout=90,
                          stdin=subprocess.DEVNULL)


def write(path: Path, data: bytes, mode: int = 0o644, mtime_ns: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def entry(root: Path, rel: str) -> FileEntry:
    p = root / rel
    st = p.stat()
    return FileEntry(str(p), str(root), rel, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)


def run_action(name: str, root: Path, rel: str, out: Path | None = None,
               **options: str) -> str | None:
    """Resolve, check and run a built-in on one file, as the engine does (its func)."""
    spec = ActionSpec(name=name, options=dict(options))
    act = resolve_action(spec)
    act.check(spec, EngineSettings(out_dir=None if out is None else str(out)))
    assert isinstance(act, PythonAction)
    ctx = make_context(act, entry(root, rel), out_dir=None if out is None else str(out),
                       options=spec.options)
    result = act.func(ctx)
    assert result is None or isinstance(result, str)
    return result


TEXT = b"".join(b"%06d GET /index.html 200 1234 Mozilla/5.0\n" % i for i in range(40_000))


# -- compress / decompress ------------------------------------------------------------------


def test_zstd_round_trip_through_the_cli_is_byte_exact(tmp_path: Path,
                                                       cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    files = {
        "logs/app.log": TEXT,
        "bin/random.bin": os.urandom(3 * (1 << 20) + 5),  # several 1 MiB chunks
        "empty.txt": b"",
        "odd name $(x).txt": b"name, not a command\n",
    }
    for i, (rel, data) in enumerate(files.items()):
        write(root / rel, data, mode=0o600 + i, mtime_ns=1_600_000_000_123_456_789 + i)
    z, d = tmp_path / "z", tmp_path / "d"
    proc = tb("run", str(root), "--action", "compress", "--opt", "format=zstd", "--opt",
              "level=5", "--out", str(z), env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""  # as zstd -q: nothing to say when all went well
    assert sorted(p.name for p in z.rglob("*.zst")) == sorted(
        os.path.basename(r) + ".zst" for r in files)
    if shutil.which("zstd"):  # the real tool reads what we wrote
        real = subprocess.run(["zstd", "-dc", str(z / "logs/app.log.zst")], capture_output=True)
        assert real.stdout == TEXT
    for rel in files:  # decompress in this process (the CLI path is the same action)
        run_action("decompress", z, rel + ".zst", d)
    for rel, data in files.items():
        src, back = (root / rel).stat(), (d / rel).stat()
        assert (d / rel).read_bytes() == data, rel
        assert (back.st_mode, back.st_mtime_ns) == (src.st_mode, src.st_mtime_ns), rel


def test_gzip_round_trip_multi_member_and_the_real_gzip(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a.log", TEXT, mode=0o640)
    assert run_action("compress", root, "a.log", tmp_path / "z", level="9") is None
    gz = tmp_path / "z" / "a.log.gz"
    assert gzip.decompress(gz.read_bytes()) == TEXT
    if shutil.which("gzip"):
        assert subprocess.run(["gzip", "-dc", str(gz)], capture_output=True).stdout == TEXT
    assert (gz.stat().st_mode & 0o777) == 0o640
    # two members, as `cat a.gz b.gz` makes, decompress to both
    write(root / "two.gz", gzip.compress(b"first\n") + gzip.compress(b"second\n"))
    run_action("decompress", root, "two.gz", tmp_path / "d")
    assert (tmp_path / "d" / "two").read_bytes() == b"first\nsecond\n"
    # decompress of our own .gz is byte-exact
    run_action("decompress", tmp_path / "z", "a.log.gz", tmp_path / "d")
    assert (tmp_path / "d" / "a.log").read_bytes() == TEXT


@pytest.mark.parametrize("data", [
    b"just text, not compressed\n",
    b"",
    gzip.compress(TEXT)[:-9],  # cut short
    zstandard.ZstdCompressor(write_checksum=True).compress(TEXT)[:-7],
    gzip.compress(b"ok") + b"garbage after it",
], ids=["plain", "empty", "gzip-cut", "zstd-cut", "gzip-garbage"])
def test_decompress_refuses_what_is_not_whole_compressed_data(tmp_path: Path,
                                                              data: bytes) -> None:
    root = tmp_path / "in"
    ext = ".zst" if data.startswith(b"\x28\xb5\x2f\xfd") else ".gz"
    write(root / f"x{ext}", data)
    with pytest.raises(ActionError, match=r"not gzip|not compressed|cut short|empty|trailing"):
        run_action("decompress", root, f"x{ext}", tmp_path / "d", keep="false")
    assert (root / f"x{ext}").exists()  # keep=false never removes an input that failed
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def test_keep_false_removes_the_input_only_once_the_output_is_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "in"
    write(root / "a.log", TEXT)
    final = tmp_path / "z" / "a.log.zst"
    seen: list[tuple[str, bool, int]] = []
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(path) == str(root / "a.log"):
            size = final.stat().st_size if final.exists() else -1
            seen.append((os.fspath(path), final.exists(), size))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    run_action("compress", root, "a.log", tmp_path / "z", format="zstd", keep="false")
    assert not (root / "a.log").exists()
    assert len(seen) == 1 and seen[0][1], seen  # the output was there when the input went
    assert zstandard.ZstdDecompressor().stream_reader(final.open("rb")).read() == TEXT


def test_in_place_writes_beside_and_never_overwrites(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a.log", TEXT)
    write(root / "b.log", b"b\n")
    write(root / "b.log.gz", b"someone else's file")
    run_action("compress", root, "a.log", in_place="true")
    assert gzip.decompress((root / "a.log.gz").read_bytes()) == TEXT
    with pytest.raises(ActionError, match=r"b\.log\.gz already exists"):
        run_action("compress", root, "b.log", in_place="true", keep="false")
    assert (root / "b.log.gz").read_bytes() == b"someone else's file"
    assert (root / "b.log").exists()
    assert sorted(os.listdir(root)) == ["a.log", "a.log.gz", "b.log", "b.log.gz"]  # no temp
    # in place and --out together are refused
    spec = ActionSpec(name="compress", options={"in_place": "true"})
    with pytest.raises(InputError, match="in_place"):
        resolve_action(spec).check(spec, EngineSettings(out_dir=str(tmp_path / "o")))


@pytest.mark.parametrize(("options", "ok"), [
    ({"level": "0"}, False), ({"level": "9"}, True), ({"level": "10"}, False),
    ({"format": "zstd", "level": "22"}, True), ({"format": "zstd", "level": "23"}, False),
    ({"format": "zstd", "level": "0"}, False), ({"format": "lz4"}, False),
    ({"keep": "maybe"}, False),
])
def test_levels_are_checked_per_format(tmp_path: Path, options: dict[str, str],
                                       ok: bool) -> None:
    spec = ActionSpec(name="compress", options=options)
    settings = EngineSettings(out_dir=str(tmp_path / "o"))
    if ok:
        resolve_action(spec).check(spec, settings)
    else:
        with pytest.raises(InputError, match=r"level|format|keep"):
            resolve_action(spec).check(spec, settings)


def test_output_names_follow_the_options(tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    zst = resolve_action(ActionSpec(name="compress", options={"format": "zstd"}))
    assert zst.out_path_for(out, "/r", "a/b.log", False) == f"{out}/a/b.log.zst"
    dec = resolve_action(ActionSpec(name="decompress"))
    assert dec.out_path_for(out, "/r", "a/b.tgz", False) == f"{out}/a/b.tar"
    assert dec.out_path_for(out, "/r", "a/b.log.zst", False) == f"{out}/a/b.log"
    md5 = resolve_action(ActionSpec(name="checksum", options={"algo": "md5"}))
    assert md5.out_path_for(out, "/r", "a.txt", False) == f"{out}/a.txt.md5"


# -- checksum ---------------------------------------------------------------------------------


def test_xxh3_128_and_md5_digests(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) + 3)
    write(tmp_path / "f.bin", data)
    got = run_action("checksum", tmp_path, "f.bin", algo="xxh3-128")
    assert got == f"{xxhash.xxh3_128(data).hexdigest()}  {tmp_path / 'f.bin'}"
    got = run_action("checksum", tmp_path, "f.bin", algo="md5")
    assert got == f"{hashlib.md5(data).hexdigest()}  {tmp_path / 'f.bin'}"


NAMES = ["a.txt", "sub/b c.txt", "sub/deep/back\\slash.txt", "new\nline.txt"]


def make_tree(root: Path) -> None:
    for i, rel in enumerate(NAMES):
        write(root / rel, f"content {i}\n".encode() * (i + 1))


@pytest.mark.parametrize("algo", ["sha256", "md5"])
def test_manifest_and_sidecars_pass_the_real_tools(tmp_path: Path, cli_env: dict[str, str],
                                                   algo: str) -> None:
    tool = f"{algo}sum"
    if not shutil.which(tool):
        pytest.skip(f"{tool} not installed")
    root, side = tmp_path / "in", tmp_path / "side"
    make_tree(root)
    manifest = tmp_path / f"{algo.upper()}SUMS"
    proc = tb("run", str(root), "--action", "checksum", "--opt", f"algo={algo}", "--opt",
              f"manifest={manifest}", "--opt", "sidecar=true", "--out", str(side), env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert b"manifest: 4 files listed" in proc.stderr
    lines = manifest.read_bytes().splitlines()
    assert len(lines) == 4
    check = subprocess.run([tool, "-c", str(manifest)], cwd=root, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(b": OK") == 4
    for rel in NAMES:  # each sidecar names its file by its base name, checked in its folder
        sidecar = side / (rel + ("." + algo))
        ok = subprocess.run([tool, "-c", str(sidecar)], cwd=(root / rel).parent,
                            capture_output=True)
        assert ok.returncode == 0, (rel, ok.stdout, ok.stderr)


def test_manifest_after_an_interrupted_run_lists_every_file(tmp_path: Path,
                                                            cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    for i in range(8):
        write(root / f"f{i}.txt", b"x" * i)
    manifest = tmp_path / "SHA256SUMS"
    db = tmp_path / "job.db"
    spec = JobSpec(FilterSpec(roots=[str(root)]),
                   ActionSpec(name="checksum", options={"manifest": str(manifest)}),
                   EngineSettings(workers=1))
    with Store(str(db)) as store:
        job_id = create_job(store, plan_job(spec, store=store))
        runner = JobRunner(store, job_id)
        done = []

        def on_event(ev: Any) -> None:
            if type(ev) is TaskEvent and ev.state is TaskState.DONE:
                done.append(ev.task_id)
                if len(done) == 3:
                    runner.stop()

        runner.engine.subscribe(on_event)

        async def go() -> int:
            try:
                return await runner.run()
            finally:
                await runner.aclose()

        assert asyncio.run(go()) == 130
        assert not manifest.exists()  # an interrupted run writes no half manifest
    proc = tb("resume", str(job_id), "--db", str(db), "--headless", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    names = [line.split(b"  ", 1)[1] for line in manifest.read_bytes().splitlines()]
    assert names == sorted(f"f{i}.txt".encode() for i in range(8))
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", str(manifest)], cwd=root,
                               capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr


# -- verify -----------------------------------------------------------------------------------


def test_verify_reports_a_changed_file_a_missing_one_and_skips_unlisted(
        tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root)
    if not shutil.which("sha256sum"):
        pytest.skip("sha256sum not installed")
    manifest = root / "SHA256SUMS"  # the real tool's manifest, inside the root: not listed
    sums = subprocess.run(["sha256sum", *NAMES[:3]], cwd=root, capture_output=True, check=True)
    manifest.write_bytes(sums.stdout)
    (root / "a.txt").write_bytes(b"changed\n")
    (root / "sub" / "b c.txt").unlink()
    write(root / "extra.txt", b"not listed\n")  # and NAMES[3], with its newline, is not
    bad = tb("run", str(root), "--action", "verify", "--opt", f"manifest={manifest}",
             "--json", env=cli_env)
    assert bad.returncode == 1, bad.stderr
    assert b"checksum mismatch: expected " in bad.stdout
    assert b'"message": "missing: sub/b c.txt"' in bad.stderr
    # sub/deep/back\\slash.txt matched, by its escaped line
    assert b"verify: 1 file OK, 1 mismatched or unreadable, 1 missing" in bad.stderr
    con = sqlite3.connect(cli_env["TUI_BATCH_DB"])
    try:
        skipped = con.execute("SELECT path, reason FROM tasks WHERE state = 'skipped' AND"
                              " job_id = (SELECT MAX(id) FROM jobs) ORDER BY path").fetchall()
    finally:
        con.close()
    assert sorted((os.path.basename(os.fsdecode(p)), r) for p, r in skipped) == [
        ("SHA256SUMS", "not in the manifest"), ("extra.txt", "not in the manifest"),
        ("new\nline.txt", "not in the manifest")]


def test_verify_needs_a_readable_manifest_and_a_known_algorithm(tmp_path: Path) -> None:
    write(tmp_path / "a", b"a")
    settings = EngineSettings()
    for options, match in [({}, "manifest=PATH"),
                           ({"manifest": str(tmp_path / "nope")}, "cannot read"),
                           ({"manifest": str(write(tmp_path / "bad", b"zz  a\n"))}, "line 1")]:
        spec = ActionSpec(name="verify", options=options)
        with pytest.raises(InputError, match=match):
            resolve_action(spec).check(spec, settings)
    sums = write(tmp_path / "sums", f"{hashlib.md5(b'a').hexdigest()}  a\n".encode())
    spec = ActionSpec(name="verify", options={"manifest": str(sums)})
    with pytest.raises(InputError, match="algo=md5"):  # 32 digits: md5 or xxh3-128?
        resolve_action(spec).check(spec, settings)
    assert run_action("verify", tmp_path, "a", manifest=str(sums), algo="md5") == (
        f"{tmp_path / 'a'}: OK")


def test_task_context_of_verify_skips_an_unlisted_file(tmp_path: Path) -> None:
    write(tmp_path / "a", b"a")
    sums = write(tmp_path / "SHA256SUMS", f"{hashlib.sha256(b'b').hexdigest()}  b\n".encode())
    act = resolve_action(ActionSpec(name="verify"))
    assert isinstance(act, PythonAction)
    ctx = TaskContext(str(tmp_path / "a"), str(tmp_path), "a", options={"manifest": str(sums)})
    with pytest.raises(ActionError, match="not in the manifest"):
        act.func(ctx)
