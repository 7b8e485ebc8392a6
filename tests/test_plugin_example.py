"""A real plugin package (tests/plugin_example, with its own pyproject.toml) installed with pip:
its entry point in ``tui_batch.actions`` puts its action in the CLI listing, runs it with
``--action``, adds it to the registry and to the TUI form's action choices (issue 12)."""

from __future__ import annotations

import base64
import hashlib
import importlib
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Select

from tests.conftest import tui_batch_cmd
from tests.ui_support import app_for, make_tree
from tui_batch.actions import list_actions, reload_plugins, resolve_action
from tui_batch.errors import InputError
from tui_batch.model import ActionSpec, EngineSettings, ExecKind

PLUGIN = Path(__file__).parent / "plugin_example"
NAME = "example-upper"

pytestmark = pytest.mark.slow  # pip builds and installs a wheel: seconds on a loaded machine


def _build_wheel(folder: Path) -> Path:
    """The plugin's wheel, from its pyproject.toml's [project] table.

    Built here rather than by setuptools, which needs the ``wheel`` package this venv does not
    have (nor should it); a wheel is a zip with the package and its ``.dist-info``, and pip
    installs it as it installs any other.
    """
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    dist = re.sub(r"[-_.]+", "_", project["name"])
    info = f"{dist}-{project['version']}.dist-info"
    files: dict[str, bytes] = {
        p.relative_to(PLUGIN).as_posix(): p.read_bytes()
        for p in sorted((PLUGIN / "tb_example_plugin").glob("*.py"))
    }
    groups = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
        for group, eps in project["entry-points"].items()
    )
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                 f"Version: {project['version']}\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: tui-batch tests\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = groups.encode()
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{dist}-{project['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed by pip into a folder of its own (as a user's pip would, into a
    venv): found only through that folder on the path."""
    work = tmp_path_factory.mktemp("plugin")
    target = work / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
         "--disable-pip-version-check", "--target", str(target), str(_build_wheel(work))],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (eps,) = target.glob("tb_example_plugin-*.dist-info/entry_points.txt")
    assert "example-upper = tb_example_plugin.upper:upper" in eps.read_text()
    return target


@pytest.fixture
def on_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The plugin importable in this process, discovered afresh; forgotten afterwards."""
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    reload_plugins()
    yield
    monkeypatch.undo()
    importlib.invalidate_caches()
    reload_plugins()
    sys.modules.pop("tb_example_plugin.upper", None)
    sys.modules.pop("tb_example_plugin", None)


def _env(cli_env: dict[str, str], site: Path) -> dict[str, str]:
    env = dict(cli_env)
    env["PYTHONPATH"] = str(site)
    return env


def test_cli_lists_and_runs_the_plugin_action(site: Path, cli_env: dict[str, str],
                                              tmp_path: Path) -> None:
    env = _env(cli_env, site)
    listing = subprocess.run([*tui_batch_cmd(), "actions"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    line = next(ln for ln in listing.stdout.splitlines() if ln.startswith(NAME))
    assert "process" in line and "Upper-case a text file" in line and "needs --out" in line
    assert "--opt mark=..." in listing.stdout
    tree = tmp_path / "in"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "a.txt").write_text("hello")
    out = tmp_path / "out"
    proc = subprocess.run(
        [*tui_batch_cmd(), "run", str(tree), "--action", NAME, "--opt", "mark=!", "--out",
         str(out), "--headless", "-j", "2"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "d" / "a.upper").read_text() == "HELLO!"
    assert "d/a.txt: 6 characters (task 1 of job 1)" in proc.stdout
    # without the package on the path, the name is unknown (nothing else made it appear)
    gone = subprocess.run([*tui_batch_cmd(), "actions"], env=cli_env, capture_output=True,
                          text=True, timeout=60)
    assert NAME not in gone.stdout


@pytest.mark.usefixtures("on_path")
def test_registry_resolves_the_plugin() -> None:
    names = {a.name for a in list_actions()}
    assert NAME in names
    act = resolve_action(ActionSpec(name=NAME))
    assert act.kind is ExecKind.PROCESS and act.needs_out and act.out_ext == ".upper"
    assert act.out_path_for("/o", "/in", "x/r.txt", False) == "/o/x/r.upper"
    with pytest.raises(InputError, match="mark must be"):
        act.check(ActionSpec(name=NAME, options={"mark": "x"}), EngineSettings(out_dir="/o"))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.usefixtures("on_path")
async def test_tui_form_offers_the_plugin_action(tmp_path: Path) -> None:
    app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
    async with app.run_test(size=(80, 24)) as pilot:
        select = app.screen.query_one("#action", Select)
        select.value = NAME  # raises InvalidSelectValueError unless it is one of the choices
        await pilot.pause()
        help_text = str(app.screen.query_one("#action-help").render())
        assert NAME in help_text and "mark" in help_text
