"""Form field parsing shared by the validators and the form's spec builder.

Every parser raises :class:`~tui_batch.errors.InputError` with the CLI flag name as the field,
exactly like the CLI, so one mapping (:data:`FIELD_WIDGETS`) turns any core error - including
cross-field ones such as ``min > max`` raised by ``filter_from_options`` - into a message
under the right widget.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from textual.validation import ValidationResult, Validator

from ..errors import InputError
from ..select import parse_size, parse_when

FIELD_WIDGETS: dict[str, str] = {
    "ROOT": "roots",
    "root": "roots",
    "roots": "roots",
    "--root": "roots",
    "--ext": "ext",
    "extensions": "ext",
    "--min-size": "min_size",
    "min_size": "min_size",
    "--max-size": "max_size",
    "max_size": "max_size",
    "--newer": "newer",
    "newer": "newer",
    "--older": "older",
    "older": "older",
    "--name": "name",
    "name_regex": "name",
    "--exclude": "exclude",
    "excludes": "exclude",
    "--exclude-re": "exclude_re",
    "exclude_res": "exclude_re",
    "--exec": "template",
    "--shell": "template",
    "--action": "action",
    "--opt": "opts",
    "-j": "workers",
    "--workers": "workers",
    "--retries": "retries",
    "--backoff": "retries",
    "--timeout": "timeout",
    "--priority": "priority",
    "--out": "out",
    "--dedupe": "out",
}
"""Core error field name -> form widget id."""


def split_paths(text: str, field: str) -> list[str]:
    """Paths and globs are separated by spaces; quote a path that contains one."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise InputError(field, f"unbalanced quote ({exc})") from None


def split_words(text: str) -> list[str]:
    """Extensions: separated by spaces or commas (``log, txt`` or ``.log .txt``)."""
    return [w for w in re.split(r"[\s,]+", text) if w]


def split_regexes(text: str) -> list[str]:
    """Regexes are separated by spaces (write a space in a regex as ``\\s`` or ``[ ]``)."""
    return text.split()


def check_regex(text: str, field: str) -> str:
    """Compile to report the exact problem while typing."""
    try:
        re.compile(text)
    except re.error as exc:
        raise InputError(field, f"bad regex: {exc}") from None
    return text


def parse_options(text: str) -> dict[str, str]:
    """``key=value key2='with space'`` -> dict (the form's ``--opt`` field)."""
    options: dict[str, str] = {}
    for item in split_paths(text, "--opt"):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError("--opt", f"expected KEY=VALUE, got {item!r}")
        options[key.strip()] = value
    return options


def format_options(options: dict[str, str]) -> str:
    """Inverse of :func:`parse_options`."""
    return " ".join(shlex.quote(f"{k}={v}") for k, v in options.items())


def parse_int(text: str, field: str, minimum: int = 0) -> int:
    """A whole number >= minimum (workers, retries)."""
    try:
        value = int(text.strip() or "0")
    except ValueError:
        raise InputError(field, f"expected a whole number, got {text.strip()!r}") from None
    if value < minimum:
        raise InputError(field, f"must be {minimum} or more")
    return value


def parse_seconds(text: str, field: str) -> float | None:
    """Seconds > 0, or None when blank (no timeout)."""
    text = text.strip().lower().removesuffix("s")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(field, f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise InputError(field, "must be more than 0 seconds")
    return value


PARSERS: dict[str, Callable[[str], Any]] = {
    "roots": lambda t: split_paths(t, "ROOT"),
    "min_size": lambda t: parse_size(t, "--min-size") if t.strip() else None,
    "max_size": lambda t: parse_size(t, "--max-size") if t.strip() else None,
    "newer": lambda t: parse_when(t, "--newer") if t.strip() else None,
    "older": lambda t: parse_when(t, "--older") if t.strip() else None,
    "name": lambda t: check_regex(t, "--name") if t else None,
    "exclude": lambda t: split_paths(t, "--exclude"),
    "exclude_re": lambda t: [check_regex(r, "--exclude-re") for r in split_regexes(t)],
    "opts": parse_options,
    "workers": lambda t: parse_int(t, "--workers"),
    "retries": lambda t: parse_int(t, "--retries"),
    "timeout": lambda t: parse_seconds(t, "--timeout"),
}
"""Per-field parsers run as the user types (widget id -> parser)."""


class CoreValidator(Validator):
    """Adapts a core parser raising InputError to Textual's validator API."""

    def __init__(self, parser: Callable[[str], Any]) -> None:
        super().__init__()
        self.parser = parser
        """Parses the field's text; raises InputError when it is wrong."""

    def validate(self, value: str) -> ValidationResult:
        try:
            self.parser(value)
        except InputError as exc:
            return self.failure(exc.message, value)
        except (ValueError, OverflowError) as exc:  # a parser bug must not crash the form
            return self.failure(str(exc), value)
        return self.success()
