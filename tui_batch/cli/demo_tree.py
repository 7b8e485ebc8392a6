"""The demo's sample tree and its job: what `tui-batch demo` shows every feature on.

The tree has mixed file types, nested folders, exact duplicates (skipped by dedupe), a hidden
file and a ``.gitignore``'d folder (both left out by the default filter), and "flaky" and
"offline" files the demo action (:mod:`tui_batch.demo`) fails on, so retries are visible.
:class:`DemoTree` owns the temp folder for the life of one process and removes it at exit,
however the process ends, unless it is kept.

No Textual import. Modification times are fixed, so previews and snapshot tests are
identical on every machine.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..demo import ACTION_REF
from ..model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from ..model.limits import Limit

__all__ = [
    "ACTION_REF", "DELAY", "DEMO_DB_NAME", "DEMO_MTIME", "DemoTree", "demo_files", "demo_spec",
    "kept_report", "make_demo_tree",
]

DEMO_MTIME = 1_714_561_200  # 2024-05-01 11:00 UTC: fixed so previews are reproducible
"""Modification time given to every demo file (plus a few minutes per file)."""

_WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "chi",
    "psi",
    "omega",
]


def _text(seed: int, lines: int) -> str:
    out = []
    for i in range(lines):
        words = [_WORDS[(seed * 7 + i * 3 + k) % len(_WORDS)] for k in range(4 + (seed + i) % 6)]
        out.append(" ".join(words))
    return "\n".join(out) + "\n"


def _csv(seed: int, rows: int) -> str:
    lines = ["date,region,units,price"]
    for i in range(rows):
        lines.append(
            f"2024-04-{1 + i % 28:02d},{['north', 'south', 'east', 'west'][(seed + i) % 4]},"
            f"{(seed * 13 + i * 7) % 97},{(seed + i) % 50 + 0.99:.2f}"
        )
    return "\n".join(lines) + "\n"


def _log(seed: int, lines: int) -> str:
    levels = ["INFO", "INFO", "DEBUG", "WARN", "INFO", "ERROR"]
    return "".join(
        f"2024-04-30T{(i // 60) % 24:02d}:{i % 60:02d}:00 {levels[(seed + i) % 6]} "
        f"worker-{(seed + i) % 4} handled request {seed * 1000 + i}\n"
        for i in range(lines)
    )


def _jpeg(seed: int, size: int) -> bytes:
    # Not a real image, but starts like one so `file` and humans recognise the type.
    body = bytes((seed * 31 + i * 17) % 256 for i in range(size))
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + body + b"\xff\xd9"


def demo_files() -> dict[str, bytes]:
    """Relative path -> content of every file in the demo tree."""
    files: dict[str, bytes] = {}
    for i in range(12):
        files[f"docs/notes-{i:02d}.txt"] = _text(i, 5 + i * 3).encode()
    for i in range(6):
        files[f"docs/guides/chapter-{i + 1}.md"] = (
            f"# Chapter {i + 1}\n\n" + _text(i + 20, 10 + i * 4)
        ).encode()
    for i in range(10):
        files[f"logs/app-2024-04-{i + 20:02d}.log"] = _log(i, 40 + i * 25).encode()
    for i in range(4):
        files[f"logs/archive/worker-{i}.log"] = _log(i + 50, 200 + i * 60).encode()
    for i in range(8):
        files[f"data/sales-{2020 + i}.csv"] = _csv(i, 30 + i * 12).encode()
    for i in range(3):
        files[f"data/regions/region-{i}.csv"] = _csv(i + 10, 25).encode()
    for i in range(9):
        files[f"photos/2024/img_{i + 100:04d}.jpg"] = _jpeg(i, 2000 + i * 1500)
    # Exact duplicates: dedupe skips them (and the preview marks them).
    files["photos/2024/img_0100 (copy).jpg"] = files["photos/2024/img_0100.jpg"]
    files["photos/backup/img_0103.jpg"] = files["photos/2024/img_0103.jpg"]
    files["data/sales-2023-final.csv"] = files["data/sales-2023.csv"]
    files["docs/notes-00 copy.txt"] = files["docs/notes-00.txt"]
    # Flaky files: their first attempt fails, the automatic retry succeeds.
    for i in range(4):
        files[f"inbox/flaky-upload-{i}.txt"] = _text(i + 40, 6).encode()
    # Offline files fail every automatic attempt; "retry failed" (r) on the dashboard fixes them.
    for i in range(2):
        files[f"inbox/offline-{i}.txt"] = _text(i + 50, 4).encode()
    for i in range(6):
        files[f"inbox/upload-{i}.txt"] = _text(i + 60, 8).encode()
    files["README.md"] = b"# Demo tree\n\nMade by `tui-batch demo`.\n"
    # Left out by default: a hidden file and an ignored build folder.
    files[".secret-token"] = b"not a real secret\n"
    files[".gitignore"] = b"build/\n*.tmp\n"
    files["build/output.bin"] = bytes(4096)
    files["scratch.tmp"] = b"temporary\n"
    return files


def make_demo_tree(path: str | os.PathLike[str]) -> Path:
    """Create the demo tree under ``path`` (created if needed); returns the folder."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for index, (rel, content) in enumerate(sorted(demo_files().items())):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        mtime = DEMO_MTIME + index * 300
        os.utime(target, (mtime, mtime))
    return root


def demo_spec(path: str | os.PathLike[str], delay: float = 0.4) -> JobSpec:
    """The demo job: every file of the tree, 3 workers, 2 retries, duplicates skipped.
    ``delay``: seconds of simulated work per file (on average; 0 runs it at full speed)."""
    return JobSpec(
        filter=FilterSpec(roots=[os.fspath(path)]),
        action=ActionSpec(name=ACTION_REF, options={"delay": f"{delay:g}"}),
        settings=EngineSettings(workers=3, retries=2, backoff=0.5, dedupe=True),
        name="demo",
    )


DEMO_DB_NAME = ".tui-batch-demo.db"
"""The demo's own job store, inside its tree, so the user's job list stays clean."""

_REAPER = (
    "import shutil, sys\n"
    # read() returns at EOF: the demo process has ended, however it ended; "keep" first
    # (keep_now: a job runs in the tree elsewhere) leaves the tree in place
    "if sys.stdin.buffer.read() != b'keep':\n"
    "    shutil.rmtree(sys.argv[1], ignore_errors=True)\n"
)


class DemoTree:
    """The demo's temp tree for the life of one process.

    Removed when the process ends unless kept: by :meth:`close` on a normal exit, Ctrl-C or
    SIGTERM/SIGHUP during a headless run (both end in an orderly way), and by a small reaper
    process otherwise. The reaper is needed because a signal's default action (SIGTERM or
    SIGHUP to the TUI, which handles neither, or kill -9) ends the process without running any
    Python code; the reaper waits for its stdin pipe to reach EOF, which the kernel delivers
    when the last holder of the other end exits. It runs in a session of its own, so the
    Ctrl-C or hang-up that ends the demo does not end it too.
    """

    def __init__(self, *, keep: bool, parent: str | None = None) -> None:
        import tempfile

        self.keep = keep
        """Leave the tree (and its job store) in place at exit."""
        self.folder = tempfile.mkdtemp(prefix="tui-batch-demo-", dir=parent)
        """The tree's root (a fresh temp folder)."""
        self.db = os.path.join(self.folder, DEMO_DB_NAME)
        """Where the demo's job store goes unless --db names another."""
        self._reaper: subprocess.Popen[bytes] | None = None
        if not keep:
            self._reaper = subprocess.Popen(
                [sys.executable, "-c", _REAPER, self.folder], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                start_new_session=True, close_fds=True,
            )
        make_demo_tree(self.folder)

    def keep_now(self, *_job: object) -> None:
        """Keep the tree after all (a job of the demo was handed to the service, which
        runs it after this process has gone): the reaper is told to leave it."""
        self.keep = True
        reaper, self._reaper = self._reaper, None
        if reaper is not None and reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.write(b"keep")
                reaper.stdin.close()

    def close(self) -> None:
        """Remove the tree now (unless kept) and let the reaper go."""
        if self.keep:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        reaper, self._reaper = self._reaper, None
        if reaper is not None:
            assert reaper.stdin is not None
            reaper.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):  # it only removes a folder
                reaper.wait(timeout=5)

    def __enter__(self) -> DemoTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


DELAY = Limit("--delay", 0, 60, unit=" seconds")
"""Range of ``tui-batch demo --delay``."""


def kept_report(folder: str, db: str, *, resume: bool) -> list[str]:
    """What a kept demo prints at exit: where the tree and its store are, and (``resume``)
    the command that finishes each unfinished job of that store."""
    from ..jobs import resume_command
    from ..store import Store

    db_abs = os.path.abspath(db)
    lines = [f"demo tree kept: {folder}",
             f"its jobs: tui-batch jobs --db {shlex.quote(db_abs)}"]
    if resume and os.path.exists(db_abs):  # never create a store just to report on it
        store = Store(db_abs)
        try:
            jobs = store.list_jobs()
        finally:
            store.close()
        for job in jobs:
            c = job.counts
            if c.get("queued", 0) + c.get("running", 0) + c.get("interrupted", 0):
                lines.append(f"resume with: {resume_command(job.id, db_abs)}")
    return lines
