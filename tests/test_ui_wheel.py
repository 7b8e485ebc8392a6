"""The TCSS ships inside the wheel: build it, install it in a fresh venv, start the app there.

A source checkout finds ``styles/app.tcss`` at the top level, so only an installed wheel proves
the packaged copy (``tui_batch/styles/app.tcss``, hatch force-include) exists and is the one
the app loads.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import asyncio, sys
from pathlib import Path

venv_dir = Path(sys.argv[1]).resolve()
import tui_batch
from tui_batch.ui.resources import stylesheet_path

pkg = Path(tui_batch.__file__).resolve().parent
assert venv_dir in pkg.parents, f"tui_batch imported from {pkg}, not the wheel"
css = stylesheet_path().resolve()
assert css == pkg / "styles" / "app.tcss", css
assert css.is_file()

from tui_batch.ui.app import BatchApp

async def main() -> None:
    app = BatchApp(root=sys.argv[2], db=sys.argv[3], deterministic=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert any(Path(p).resolve() == css for p in app.css_path), app.css_path
        label = app.screen.query(".field-label").first()
        assert label.styles.width is not None and label.styles.width.value == 15
        bar = app.screen.query_one("#form-bar")
        assert bar.styles.height is not None and bar.styles.height.value == 1
    print("packaged stylesheet OK:", css)

asyncio.run(main())
"""


def _build_wheel(out: Path) -> Path:
    try:
        import build  # noqa: F401

        cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)]
    except ImportError:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = sorted(out.glob("tui_batch-*.whl"))
    assert wheels, proc.stdout
    return wheels[-1]


@pytest.mark.slow
def test_wheel_ships_tcss_and_app_starts(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "tui_batch/styles/app.tcss" in names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # Dependencies come from this interpreter's site-packages (a .pth line adds the folder
    # after the venv's own site-packages, so the wheel's tui_batch wins; the editable-install
    # hook there is not run because .pth files are only processed in real site dirs).
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    Path(purelib, "_host_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    workdir = tmp_path / "elsewhere"  # not the checkout: no styles/ folder nearby
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TEXTUAL_ANIMATIONS"] = "none"
    proc = subprocess.run(
        [str(python), "-c", CHECK, str(env_dir), str(workdir), str(tmp_path / "jobs.db")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "packaged stylesheet OK" in proc.stdout
