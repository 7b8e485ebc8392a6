"""A run killed with -9 leaves no command behind: the fork server sees its engine vanish and
stops what still runs (SIGTERM, then SIGKILL), since `resume` runs those tasks again anyway.
A command that kept running would be a second copy of the same work that nobody watches."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import tui_batch_cmd


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def test_kill_9_of_a_run_stops_its_running_commands(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(2):
        (tree / f"{i}.txt").write_text(str(i))
    pids = tmp_path / "pids"
    pids.mkdir()
    template = f"sh -c 'echo $$ > {pids}/$(basename \"$1\"); exec sleep 60' sh {{}}"
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "-j", "2", "--headless",
                             "--db", str(tmp_path / "j.db"), "--exec", template],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(list(pids.iterdir())) < 2:
            assert time.monotonic() < deadline, "the commands did not start"
            time.sleep(0.02)
        time.sleep(0.05)  # both wrote their pid: both are sleeping now
        children = [int(p.read_text()) for p in pids.iterdir()]
        assert all(_alive(c) for c in children)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children):
            assert time.monotonic() < deadline, "a command outlived its killed run"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in pids.iterdir():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(p.read_text()), signal.SIGKILL)
