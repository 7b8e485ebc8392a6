"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "baselines"
PY = sys.executable
TB = str(Path(sys.executable).with_name("tui-batch"))


def tui_batch_cmd() -> list[str]:
    return [TB] if os.path.exists(TB) else [PY, "-m", "tui_batch"]


def make_flat_tree(folder: Path, n: int) -> Path:
    """n small files with distinct content in 100-file folders (fast to make)."""
    marker = folder / f".tree-{n}"
    if marker.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    for i in range(n):
        d = folder / f"d{i // 100:04d}"
        if i % 100 == 0:
            d.mkdir(parents=True)
        (d / f"f{i:06d}.txt").write_text(f"{i}\n")
    marker.write_text("")
    return folder


def timed(fn: Callable[[], object], runs: int = 3) -> tuple[float, list[float]]:
    """Median wall time of fn over runs (after the caller's own warm-up, if any)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def sh(cmd: str, **kw: object) -> None:
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


_apt_updated = False


def ensure_tool(tool: str, apt_package: str | None = None) -> bool:
    """Make sure the peer a benchmark compares against is installed: the benchmark's own
    set-up installs it from Debian's packages (never a project dependency). False when it
    cannot be had (not root, no apt), so the benchmark says so and skips that column."""
    global _apt_updated
    if have(tool):
        return True
    if os.geteuid() != 0 or not have("apt-get"):
        return False
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-q"], check=False, **quiet)  # type: ignore[call-overload]
        _apt_updated = True
    subprocess.run(["apt-get", "install", "-y", "-q", apt_package or tool], check=False,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), **quiet)  # type: ignore[call-overload]
    return have(tool)
