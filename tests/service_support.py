"""A private per-user service for a test: its own runtime folder, data folder and job store
(environment variables of the processes it starts), so no test reaches the user's service;
``shutdown`` always stops it (`service stop`, then kill -9). ``RECORD`` and ``BLOCKED`` are
task scripts that append start/end lines to a log (``BLOCKED`` waits for a GO file first).

Why a module of its own: several test files use it, and importing it from another test
module would load that module twice (pytest imports a test file under its bare name).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import tui_batch_cmd
from tui_batch.service import connect_service, stop_service
from tui_batch.store import Store

__all__ = ["BLOCKED", "RECORD", "Svc", "_zombie"]


RECORD = 'echo "s $1" >> {log}; sleep {pause}; echo "e $1" >> {log}'
BLOCKED = 'while [ ! -e {go} ]; do sleep 0.01; done; ' + RECORD


class Svc:
    """The environment of one test's private service, and the commands run in it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.rt = tempfile.mkdtemp(prefix="tbs")
        os.chmod(self.rt, 0o700)
        self.data = tmp / "data"
        self.db = tmp / "jobs.db"
        self.log = tmp / "tasks.log"
        self.go = tmp / "GO"
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.rt, XDG_DATA_HOME=str(self.data),
                        TUI_BATCH_DB=str(self.db), TUI_BATCH_NO_TUI="1")

    def tree(self, name: str, n: int) -> Path:
        root = self.tmp / name
        root.mkdir()
        for i in range(n):
            (root / f"{name}{i:02d}.txt").write_text(f"{i}\n")
        return root

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*tui_batch_cmd(), *args], env=self.env, capture_output=True,
                              text=True, timeout=90)
        if ok:
            assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc

    def detach(self, root: Path, script: str, *extra: str) -> int:
        out = self.cli("run", str(root), "--ext", "txt", "--shell", "--exec", script,
                       "--detach", "--json", *extra).stdout
        answer = json.loads(out.strip().splitlines()[-1])
        assert answer["event"] == "detached"
        return int(answer["job"])

    @property
    def pid_file(self) -> Path:
        return self.data / "tui-batch" / "service" / "service.pid"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """One request to the service from this process (the fixture points this process's
        environment at the test's folders): a few ms instead of a command's start-up."""
        client = connect_service()
        assert client is not None, "no service"
        with client:
            return client.call(op, **args)

    def status(self) -> dict[str, Any]:
        return self.call("status")

    def job_state(self, job_id: int) -> str:
        with Store(self.db, readonly=True) as store:
            return store.get_job(job_id).state

    def wait_job(self, job_id: int, *, timeout: float = 60.0) -> str:
        """The job's final state, once it has one (polled; a wedged job fails the test)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.job_state(job_id)
            if state in ("done", "failed", "cancelled", "dependency failed"):
                return state
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} still {self.job_state(job_id)}")

    def wait_for(self, what: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, "gave up waiting"
            time.sleep(0.02)

    def lines(self) -> list[tuple[str, str]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            kind, _, path = line.partition(" ")
            out.append((kind, os.path.basename(path)))
        return out

    def peak(self) -> int:
        running = peak = 0
        for kind, _ in self.lines():
            running += 1 if kind == "s" else -1
            peak = max(peak, running)
        return peak

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            client = connect_service()
            if client is not None:
                with client:
                    stop_service(client, timeout=30)
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.go.touch()  # orphaned tasks of a killed service stop waiting
        shutil.rmtree(self.rt, ignore_errors=True)


def _zombie(pid: int | None) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
