"""The engine, scanner, store and actions must never import Textual: the TUI is one client of
them, the headless CLI and the Python API are others."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tui_batch


def core_modules() -> list[str]:
    names = []
    for mod in pkgutil.walk_packages(tui_batch.__path__, "tui_batch."):
        if mod.name.startswith("tui_batch.ui"):
            continue
        names.append(mod.name)
    return sorted(names)


def test_core_modules_exist() -> None:
    mods = core_modules()
    required_modules = ("tui_batch.engine", "tui_batch.scanner", "tui_batch.store",
                        "tui_batch.actions")
    for required in required_modules:
        assert required in mods


def test_core_never_imports_textual() -> None:
    mods = core_modules()
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "    bad = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.'))\n"
        "    if bad:\n"
        "        print(m); sys.exit(1)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"{proc.stdout.strip()} imports textual\n{proc.stderr}"
