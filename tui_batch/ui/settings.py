"""The TUI's own preferences (the theme), kept across runs in a small TOML file.

Jobs live in the job store; what the user chose about the TUI itself is not a job's, so it
lives apart, in ``settings.toml`` under the user config folder (platformdirs:
``~/.config/tui-batch`` on Linux). ``TUI_BATCH_CONFIG_DIR`` names another folder: tests point
it at a temporary one so they never read or write the real home. A missing, unreadable or
malformed file means defaults, never a failed start; a failed save is reported, not raised.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import tomllib
from pathlib import Path

import platformdirs

ENV_VAR = "TUI_BATCH_CONFIG_DIR"
"""Folder of the settings file instead of the user config folder."""
FILE_NAME = "settings.toml"

Value = str | int | bool


def config_dir() -> Path:
    """Where the settings file lives: ``$TUI_BATCH_CONFIG_DIR``, else the user config folder."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("tui-batch"))


def settings_path() -> Path:
    """The settings file."""
    return config_dir() / FILE_NAME


def load_settings(path: Path | None = None) -> dict[str, Value]:
    """Every stored setting ({} when there is no readable, valid file)."""
    path = path or settings_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str | int | bool)}


def _toml(settings: dict[str, Value]) -> str:
    lines = ["# tui-batch TUI settings (written by tui-batch; safe to edit or delete)"]
    for key, value in sorted(settings.items()):
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        else:  # a JSON string is a valid TOML basic string
            text = json.dumps(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def save_setting(key: str, value: Value, path: Path | None = None) -> None:
    """Store one setting, keeping the others; written atomically (raises OSError)."""
    path = path or settings_path()
    settings = load_settings(path)
    settings[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_toml(settings))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
