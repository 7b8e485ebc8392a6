"""The package's shape, enforced: one-way imports between concerns, no cycles, small modules.

The engine, scanner, store, actions and job system never import Textual: the TUI is one client
of them, the CLI, the service and the Python API are others. Beyond that, every package may
import only the packages below it in the flow

    errors <- model <- actions <- select <- jobs <- watch <- clients (api, cli, ui)
                        ^  store  <------------'
                        '- engine <------------'

(``demo`` is the demo's action, stored by its path ``tui_batch.demo:inspect_file``: an action
module the CLI's demo command uses)
so a newcomer can read the system bottom-up and a change in a client never reaches the core.
The graph is built with ``ast`` from the source (no imports executed): module-level imports and
imports inside functions count alike, except the CLI's lazy imports of the UI (the TUI is only
loaded when it opens).
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import tui_batch

PKG_DIR = Path(tui_batch.__file__).parent
MAX_LINES = 400

# What each concern may import (besides itself). A key is the first component below
# `tui_batch` ("" is the package's own __init__/__main__).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": {"errors"},
    "actions": {"errors", "model"},
    "select": {"errors", "model", "actions"},
    "store": {"errors", "model"},
    "engine": {"errors", "model", "actions"},
    "control": {"errors", "model", "store", "engine"},
    "jobs": {"errors", "model", "actions", "select", "store", "engine", "control"},
    "watch": {"errors", "model", "actions", "select", "store", "engine", "jobs", "control"},
    "scheduler": {"errors", "model", "actions", "select", "store", "engine", "jobs",
                  "control"},
    "api": {"errors", "model", "actions", "select", "store", "engine", "jobs", "scheduler",
            "control"},
    "demo": {"errors", "model", "actions"},
    "service": {"errors", "model", "actions", "select", "store", "engine", "jobs", "control",
                "scheduler", "watch"},
    "cli": {"errors", "model", "actions", "select", "store", "engine", "jobs", "watch", "api",
            "demo", "scheduler", "control", "service"},
    "ui": {"errors", "model", "actions", "select", "store", "engine", "jobs", "watch",
           "control", "service"},
    "": {"errors", "model", "api", "cli"},
}
CORE = ("errors", "model", "actions", "select", "store", "engine", "jobs", "watch", "api",
        "demo", "scheduler", "control", "service")


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    line: int
    top_level: bool  # at module level (not inside a function)
    type_only: bool = False  # under `if TYPE_CHECKING:`: never runs, so it closes no cycle


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    base = PKG_DIR.parent / rel
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _edges(path: Path) -> list[Edge]:
    name = _module_name(path)
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    nested: set[int] = set()
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            nested.update(id(n) for n in ast.walk(node) if n is not node)
        elif isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING", "typing.TYPE_CHECKING"
        ):
            typing_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    out: list[Edge] = []

    def add(dst: str, node: ast.stmt) -> None:
        if dst == "tui_batch" or dst.startswith("tui_batch."):
            out.append(Edge(name, dst, node.lineno, id(node) not in nested,
                            id(node) in typing_only))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            # `from pkg import submodule` depends on the submodule, not on pkg/__init__
            subs = [f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")]
            if subs and len(subs) == len(node.names):
                for sub in subs:
                    add(sub, node)
            else:
                add(target, node)
    return out


def _all_files() -> list[Path]:
    return sorted(p for p in PKG_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def _concern(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] != "__main__" else ""


def _graph() -> list[Edge]:
    return [e for p in _all_files() for e in _edges(p)]


def test_core_modules_exist() -> None:
    names = {_module_name(p) for p in _all_files()}
    for required in ("tui_batch.engine", "tui_batch.select", "tui_batch.store",
                     "tui_batch.actions", "tui_batch.jobs", "tui_batch.watch", "tui_batch.cli"):
        assert required in names


def test_no_module_over_the_size_limit() -> None:
    big = []
    for p in _all_files():
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            big.append(f"{p.relative_to(PKG_DIR.parent)}: {n} lines")
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_imports_flow_one_way() -> None:
    bad = []
    for e in _graph():
        src, dst = _concern(e.src), _concern(e.dst)
        if src == dst or dst == "":
            if dst == "" and src != "" and e.dst == "tui_batch":
                bad.append(f"{e.src}:{e.line} imports the package root (import the module)")
            continue
        if src == "cli" and dst == "ui" and not e.top_level:
            continue  # the TUI is loaded lazily, only to open it
        if dst not in ALLOWED.get(src, set()):
            bad.append(f"{e.src}:{e.line} imports {e.dst} ({src} may not import {dst})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles_at_module_level() -> None:
    graph: dict[str, set[str]] = {}
    for e in _graph():
        if e.top_level and not e.type_only and e.src != e.dst:
            graph.setdefault(e.src, set()).add(e.dst)
    # a submodule importing its own package's __init__ closes a loop with the re-exports
    state: dict[str, int] = {}
    cycles: list[list[str]] = []
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_ui_screens_never_import_each_other_or_the_app() -> None:
    bad = []
    for e in _graph():
        if e.src.startswith("tui_batch.ui.screens.") and (
            e.dst.startswith("tui_batch.ui.screens.") or e.dst == "tui_batch.ui.app"
        ):
            bad.append(f"{e.src}:{e.line} imports {e.dst}")
        if e.src.startswith(("tui_batch.ui.dialogs.", "tui_batch.ui.widgets.")) and (
            e.dst.startswith("tui_batch.ui.screens") or e.dst == "tui_batch.ui.app"
        ):
            bad.append(f"{e.src}:{e.line} imports {e.dst}")
    assert not bad, "\n".join(bad)


def test_the_graph_sees_real_imports() -> None:
    """The checks above are only as good as the graph: it must see relative, nested and
    `from pkg import module` imports (a checker that sees nothing passes everything)."""
    edges = _graph()
    assert len(edges) > 100
    assert any(not e.top_level for e in edges)
    assert any(e.src == "tui_batch.cli" or e.src.startswith("tui_batch.cli.") for e in edges)
    assert any(_concern(e.src) == "jobs" and _concern(e.dst) == "engine" for e in edges)


def core_modules() -> list[str]:
    names = []
    for mod in pkgutil.walk_packages(tui_batch.__path__, "tui_batch."):
        if _concern(mod.name) in CORE:
            names.append(mod.name)
    return sorted(names)


def test_core_never_imports_textual() -> None:
    mods = core_modules()
    assert any(m.startswith("tui_batch.engine") for m in mods)
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
