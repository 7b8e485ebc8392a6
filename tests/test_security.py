"""Another user cannot list, read or control anyone's jobs (issue 11, with a second uid).

The store a user gets by default lives in a folder tui-batch creates private (0700, the file
0600), so another user's `tui-batch jobs` is refused with a clear message, no traceback; the
control sockets' own checks (folder 0700, socket 0600, SO_PEERCRED) are tested in
test_control.py and test_service.py. Root only (switching users needs it), and only where an
interpreter exists that the other user may run.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from tests.conftest import tui_batch_cmd

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534


def _reachable(path: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real.exists() and all(os.stat(p).st_mode & stat.S_IXOTH for p in [real, *real.parents]
                                 if p != real) and bool(os.stat(real).st_mode & stat.S_IROTH)


def _world_python() -> str | None:
    """A Python of our version another user may run, with our dependencies readable."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    if not (_reachable(purelib) and _reachable(ROOT / "tui_batch" / "__init__.py")):
        return None
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for cand in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if _reachable(Path(cand)) and os.access(os.path.realpath(cand), os.X_OK):
            return os.path.realpath(cand)
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_another_user_cannot_list_or_read_the_jobs(tmp_path: Path) -> None:
    python = _world_python()
    if python is None:
        pytest.skip("no interpreter another user may run with our packages")
    home = Path(tempfile.mkdtemp(prefix="tbhome"))
    try:
        os.chmod(home, 0o755)  # the way in is open: only tui-batch's own folder is closed
        env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "share")}
        env.pop("TUI_BATCH_DB", None)
        tree = tmp_path / "tree"
        tree.mkdir()
        (tree / "a.txt").write_text("a\n")
        run = subprocess.run([*tui_batch_cmd(), "run", str(tree), "--exec", "true",
                              "--headless"], env=env, capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stderr
        folder = home / "share" / "tui-batch"
        db = folder / "jobs.db"
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
        purelib = sysconfig.get_paths()["purelib"]
        other_env = {"PATH": "/usr/bin:/bin", "HOME": "/", "PYTHONPATH":
                     f"{ROOT}{os.pathsep}{purelib}", "XDG_RUNTIME_DIR": os.environ.get(
                         "XDG_RUNTIME_DIR", "/nonexistent")}
        for args in (["jobs", "--db", str(db)], ["jobs", "1", "--db", str(db)],
                     ["log", "1", "--db", str(db)]):
            proc = subprocess.run([python, "-m", "tui_batch", *args], user=NOBODY,
                                  group=NOBODY, extra_groups=[], env=other_env, cwd="/",
                                  capture_output=True, text=True, timeout=60)
            assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
            assert "Traceback" not in proc.stderr
            assert "permission denied" in proc.stderr.lower(), proc.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)
