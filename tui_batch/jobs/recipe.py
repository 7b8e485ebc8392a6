"""Recipe files: a job spec saved as TOML, shared by the CLI (--recipe) and the TUI form.

Layout::

    name = "compress logs"
    [filter]
    roots = ["/var/log/app"]
    extensions = [".log"]
    min_size = 1048576
    [action]
    template = "gzip -k {}"
    [settings]
    workers = 4

A pipeline has ``[[steps]]`` instead of ``[action]``: one table per step, in order, each an
action table (``name`` or ``template``, ``shell``, ``[steps.options]``) with the step's own
``workers``, ``retries``, ``timeout``, ``priority`` and ``keep``::

    [[steps]]
    name = "extract-text"
    keep = false
    [[steps]]
    name = "compress"
    [steps.options]
    level = 9

Errors about a step name it as ``steps[N].key`` (N from 1) and point at its line.

Values are the parsed ones (bytes, epoch seconds) so a recipe means the same thing tomorrow;
size strings like "1MiB" and relative times like "7d" are accepted too and parsed on load.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..model import EngineSettings, FilterSpec, JobSpec
from ..model.steps import STEP_KEYS
from ..select import filter_from_dict

TABLES: dict[str, frozenset[str]] = {
    "filter": frozenset(FilterSpec.__dataclass_fields__),
    "action": frozenset({"template", "shell", "name", "options"}),
    "settings": frozenset(EngineSettings.__dataclass_fields__),
}
"""The tables of a recipe and the keys each may hold (``name`` is the only top-level value)."""

_HEADER = re.compile(r"^\s*\[\[?([^\]]*)\]\]?\s*(?:#.*)?$")


def _show(path: str) -> str:
    # a file name is printed on one line: undecodable bytes and control characters escaped
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


@dataclass
class Recipe:
    """A recipe file, read and checked for shape (tables, known keys), with its text kept so
    that any later error can name the line of the key it is about: tomllib gives values but
    no line numbers, so the line is found by scanning the text for ``key =`` in its table."""

    path: str
    text: str
    data: dict[str, Any]

    def table(self, name: str) -> dict[str, Any]:
        """One of ``filter``/``action``/``settings`` (empty if absent; already a table)."""
        return dict(self.data.get(name) or {})

    def line_of(self, field: str) -> int | None:
        """Line of the key an error names (``settings.workers``, ``action.options.level``,
        ``steps[2].name``), or of its table, or None (a key that is not in the file, e.g. a
        CLI flag)."""
        m = _STEP_FIELD.match(field)
        if m:
            return _step_line(self.text, int(m.group(1)), m.group(2) or "")
        parts = field.split(".")
        for i in range(len(parts) - 1, -1, -1):
            n = _key_line(self.text, ".".join(parts[:i]), parts[i])
            if n is None:
                n = _header_line(self.text, ".".join(parts[: i + 1]))
            if n is not None:
                return n
        return None

    def error(self, exc: InputError) -> InputError:
        """``exc`` (raised while validating this recipe's values) located in the file."""
        where = _show(self.path)
        line = self.line_of(exc.field) if not exc.field.startswith("-") else None
        if line is not None:
            where += f":{line}"
        return InputError("--recipe", f"{where}: {exc.field}: {exc.message}")

    @contextmanager
    def blame(self) -> Iterator[None]:
        """Errors raised inside are about this recipe's values: say where they are."""
        try:
            yield
        except InputError as exc:
            raise self.error(exc) from None


def _key_re(key: str) -> re.Pattern[str]:
    k = re.escape(key)
    return re.compile(rf"""^\s*(?:{k}|"{k}"|'{k}')\s*=""")


def _table_name(raw: str) -> str:
    return ".".join(p.strip().strip("\"'") for p in raw.split("."))


def _key_line(text: str, table: str, key: str) -> int | None:
    pattern, current = _key_re(key), ""
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            current = _table_name(m.group(1))
        elif current == table and pattern.match(line):
            return n
    return None


_STEP_FIELD = re.compile(r"^steps\[(\d+)\](?:\.(.*))?$")


def _step_line(text: str, index: int, key: str) -> int | None:
    """Line of ``key`` (``name``, ``options.level``) in the ``index``-th ``[[steps]]`` table
    (from 1), or of that table's header, or of the first ``[[steps]]`` (None: no such table)."""
    parts = key.split(".") if key else []
    n_seen = 0
    header = first = None
    current = ""
    found: int | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            name = _table_name(m.group(1))
            if name == "steps" and line.lstrip().startswith("[["):
                n_seen += 1
                first = first or n
                if n_seen == index:
                    header = n
            current = name if n_seen == index else ""
            if n_seen == index and parts and name == "steps." + parts[0] and found is None:
                found = n  # [steps.options]: the key's own table
            continue
        if n_seen != index or not parts:
            continue
        table, key_name = ("steps", parts[0]) if len(parts) == 1 else (
            "steps." + ".".join(parts[:-1]), parts[-1])
        if current == table and _key_re(key_name).match(line):
            return n
        if current == "steps" and _key_re(parts[0]).match(line) and found is None:
            found = n  # options = { ... } written inline
    return found or header or first


def _header_line(text: str, table: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m and _table_name(m.group(1)) == table:
            return n
    return None


def read_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a recipe and check its shape; values are validated by whoever uses them, inside
    :meth:`Recipe.blame` so their errors name the file, the key and the line."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise InputError("--recipe", f"no such file: {_show(name)}") from None
    except OSError as exc:
        raise InputError("--recipe", f"cannot read {_show(name)}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            "--recipe", f"{_show(name)}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                        "save the recipe as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError("--recipe", f"{_show(name)} is not valid TOML: {exc}") from None
    recipe = Recipe(name, text, data)
    with recipe.blame():
        for key, value in data.items():
            if key == "name":
                if not isinstance(value, str):
                    raise InputError("name", f"expected text, got {value!r}")
            elif key == "steps":
                _check_steps_shape(data)
            elif key not in TABLES:
                raise InputError(key, f"unknown key (known: name, {', '.join(TABLES)}, steps)")
            elif not isinstance(value, dict):
                raise InputError(key, f"expected a table ([{key}] ...), got {value!r}")
            else:
                unknown = [k for k in value if k not in TABLES[key]]
                if unknown:
                    raise InputError(f"{key}.{unknown[0]}", "unknown key (known: "
                                     f"{', '.join(sorted(TABLES[key]))})")
    return recipe


def _check_steps_shape(data: dict[str, Any]) -> None:
    """``[[steps]]``: a list of tables of known keys, and no ``[action]`` beside it."""
    steps = data["steps"]
    if not isinstance(steps, list) or not steps:
        raise InputError("steps", "expected [[steps]] tables (one per step)")
    if data.get("action"):
        raise InputError("action", "give either [action] or [[steps]], not both")
    for i, table in enumerate(steps, 1):
        if not isinstance(table, dict):
            raise InputError(f"steps[{i}]", f"expected a table ([[steps]] ...), got {table!r}")
        unknown = [k for k in table if k not in STEP_KEYS]
        if unknown:
            raise InputError(f"steps[{i}].{unknown[0]}",
                             f"unknown key (known: {', '.join(sorted(STEP_KEYS))})")
        if "options" in table and not isinstance(table["options"], dict):
            raise InputError(f"steps[{i}].options",
                             f"expected a table ([steps.options] ...), got {table['options']!r}")


def load_recipe_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a recipe into a plain dict (shape checked, values not yet validated)."""
    return read_recipe(path).data


def load_recipe(path: str | os.PathLike[str]) -> JobSpec:
    """Read and validate a recipe; errors name the file, the key that is wrong and its line."""
    recipe = read_recipe(path)
    with recipe.blame():
        spec = JobSpec.from_dict(recipe.data, filter_factory=filter_from_dict)
        if spec.steps:
            check_steps(spec)
        return spec


def check_steps(spec: JobSpec) -> None:
    """Every step resolved and the chain checked (unknown action, ``--out`` missing, a
    template without a placeholder...): errors name ``steps[N].key``."""
    from .pipeline_setup import resolve_steps

    resolve_steps(spec)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\t":
                out.append("\\t")
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\u{ord(ch):04x}")
            elif 0xD800 <= ord(ch) <= 0xDFFF:
                raise InputError("recipe", f"{value!r} is not valid UTF-8 and cannot be saved")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_recipe(spec: JobSpec) -> str:
    """TOML text for a spec (None values are left out: TOML has no null)."""
    data = spec.to_dict()
    lines: list[str] = []
    if data.get("name"):
        lines.append(f"name = {_toml_value(data['name'])}")
    steps = data.pop("steps", None)
    for table in ("filter", "action", "settings"):
        if table == "action" and steps:
            continue
        lines.append(f"\n[{table}]")
        sub: dict[str, Any] = data[table]
        nested: dict[str, dict[str, Any]] = {}
        for key, value in sub.items():
            if value is None:
                continue
            if isinstance(value, dict):
                nested[key] = value
                continue
            lines.append(f"{key} = {_toml_value(value)}")
        for key, table_value in nested.items():
            lines.append(f"\n[{table}.{key}]")
            for k, v in table_value.items():
                lines.append(f"{_toml_value(str(k))} = {_toml_value(v)}")
    for step in steps or ():
        lines.append("\n[[steps]]")
        options = step.pop("options", None) or {}
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in step.items()
                     if v is not None and not (k == "shell" and v is False))
        if options:
            lines.append("[steps.options]")
            lines.extend(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in options.items())
    return "\n".join(lines).lstrip("\n") + "\n"


def save_recipe(spec: JobSpec, path: str | os.PathLike[str]) -> None:
    """Write atomically, so a crash never leaves half a recipe."""
    text = dump_recipe(spec)
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
