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

Values are the parsed ones (bytes, epoch seconds) so a recipe means the same thing tomorrow;
size strings like "1MiB" and relative times like "7d" are accepted too and parsed on load.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

from .errors import InputError
from .model import JobSpec


def load_recipe_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a recipe into a plain dict (not yet validated)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("--recipe", f"no such file: {os.fspath(path)}") from None
    except OSError as exc:
        raise InputError("--recipe", f"cannot read {os.fspath(path)}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError("--recipe", f"{os.fspath(path)} is not valid TOML: {exc}") from None
    unknown = set(data) - {"name", "filter", "action", "settings"}
    if unknown:
        raise InputError("--recipe", f"unknown key(s): {', '.join(sorted(unknown))}")
    return data


def load_recipe(path: str | os.PathLike[str]) -> JobSpec:
    """Read and validate a recipe; errors name the key that is wrong."""
    data = load_recipe_dict(path)
    try:
        return JobSpec.from_dict(data)
    except InputError as exc:
        raise InputError(f"--recipe {exc.field}", exc.message) from None


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
    for table in ("filter", "action", "settings"):
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
    return "\n".join(lines).lstrip("\n") + "\n"


def save_recipe(spec: JobSpec, path: str | os.PathLike[str]) -> None:
    """Write atomically, so a crash never leaves half a recipe."""
    text = dump_recipe(spec)
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
