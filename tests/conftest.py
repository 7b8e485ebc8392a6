"""Shared fixtures. Every test gets its own job database (never the user's)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The venv's interpreter and console script, for end-to-end tests that run the real command.
PYTHON = sys.executable
BIN_DIR = Path(sys.executable).parent


@pytest.fixture(autouse=True, scope="session")
def _private_runtime_dir() -> Iterator[str]:
    """Control sockets of the jobs tests run (in this process and in every `tui-batch` it
    starts) go to a short private folder: never the user's, and short enough for a Unix
    socket path."""
    path = tempfile.mkdtemp(prefix="tbrt")
    os.chmod(path, 0o700)
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = path
    yield path
    if old is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = old
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _tui_jobs_in_process() -> Iterator[None]:
    """The TUI runs the jobs it starts in this process (TUI_BATCH_INPROCESS), not in the
    user's per-user service: Pilot tests drive a local JobRunner, and no test starts a
    service by accident. tests/test_tui_service.py unsets it, with a private service."""
    old = os.environ.get("TUI_BATCH_INPROCESS")
    os.environ["TUI_BATCH_INPROCESS"] = "1"
    yield
    if old is None:
        os.environ.pop("TUI_BATCH_INPROCESS", None)
    else:
        os.environ["TUI_BATCH_INPROCESS"] = old


@pytest.fixture(autouse=True)
def _isolated_db(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the default job store at a temp file so no test touches the user's data folder,
    and the TUI's settings (theme) at a temp folder so none reads or writes the real home."""
    db = tmp_path_factory.mktemp("db") / "jobs.db"
    monkeypatch.setenv("TUI_BATCH_DB", str(db))
    monkeypatch.setenv("TUI_BATCH_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


def tui_batch_cmd() -> list[str]:
    """The installed console script if present (what users run), else `python -m tui_batch`."""
    exe = BIN_DIR / "tui-batch"
    if exe.exists():
        return [str(exe)]
    return [PYTHON, "-m", "tui_batch"]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TUI_BATCH_DB"] = str(tmp_path / "cli.db")
    env.pop("TUI_BATCH_NO_TUI", None)
    return env
