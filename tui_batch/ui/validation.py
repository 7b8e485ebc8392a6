"""Form field parsing shared by the validators and the form's spec builder.

Every parser is the core's own (``select.filter_from_options`` for the filter fields, the
ranges of ``model.limits`` for the numbers) or raises :class:`~tui_batch.errors.InputError`
the way the CLI does, with the CLI flag name as the field: the form and the command line
refuse the same values with the same words. One mapping (:data:`FIELD_WIDGETS`) turns any
core error - including cross-field ones such as ``min > max`` - into a message under the
right widget.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual.validation import ValidationResult, Validator

from ..errors import InputError
from ..model.limits import CLI_WORKERS, SETTINGS, Limit
from ..select import filter_from_options

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


def parse_options(text: str) -> dict[str, str]:
    """``key=value key2='with space'`` -> dict (the form's ``--opt`` field)."""
    options: dict[str, str] = {}
    for item in split_paths(text, "--opt"):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError("--opt", f"expected KEY=VALUE, got {item!r}")
        options[key.strip()] = value
    return options


def lenient_options(text: str) -> dict[str, str]:
    """:func:`parse_options`, or ``{}`` while the text is not ``KEY=VALUE`` words yet."""
    try:
        return parse_options(text)
    except InputError:
        return {}


def format_options(options: dict[str, str]) -> str:
    """Inverse of :func:`parse_options`."""
    return " ".join(shlex.quote(f"{k}={v}") for k, v in options.items())


def parse_limited(text: str, limit: Limit, empty: int | float | None) -> int | float | None:
    """A number typed in a field, in ``limit``'s range (:mod:`tui_batch.model.limits`, the
    table the CLI, recipes and the API check against, with the same words); ``empty`` when
    the field is blank."""
    value = text.strip()
    if not value:
        return empty
    try:
        number: int | float = int(value) if limit.integer else float(value)
    except ValueError:
        kind = "a whole number" if limit.integer else "a number"
        raise InputError(limit.flag, f"expected {kind} {limit.describe()}, got {value!r}") from None
    return limit.check(number)


def parse_workers(text: str) -> int:
    """Workers: blank is one per CPU (0 in the spec); a number is what ``-j`` takes (1..1024),
    so the form refuses ``0`` as the CLI does."""
    return int(parse_limited(text, CLI_WORKERS, 0) or 0)


def parse_retries(text: str) -> int:
    """Retries: blank is none."""
    return int(parse_limited(text, SETTINGS["retries"], 0) or 0)


def parse_seconds(text: str, field: str = "--timeout") -> float | None:
    """Timeout in seconds (a trailing ``s`` is allowed), None when blank (no timeout); the
    range is ``--timeout``'s."""
    limit = SETTINGS["timeout"]
    if field != limit.flag:
        limit = replace(limit, flag=field)
    value = parse_limited(text.strip().lower().removesuffix("s"), limit, None)
    return None if value is None else float(value)


def _filter_part(**given: Any) -> None:
    """One filter field checked by the core parser, alone (the roots are checked on their own
    field): the CLI's words for a bad size, time, regex, glob or extension."""
    filter_from_options(check_roots=False, **given)


PARSERS: dict[str, Callable[[str], Any]] = {
    "roots": lambda t: filter_from_options(roots=split_paths(t, "ROOT") or ["."]),
    "ext": lambda t: _filter_part(ext=split_words(t)),
    "min_size": lambda t: _filter_part(min_size=t.strip() or None),
    "max_size": lambda t: _filter_part(max_size=t.strip() or None),
    "newer": lambda t: _filter_part(newer=t.strip() or None),
    "older": lambda t: _filter_part(older=t.strip() or None),
    "name": lambda t: _filter_part(name=t or None),
    "exclude": lambda t: _filter_part(exclude=split_paths(t, "--exclude")),
    "exclude_re": lambda t: _filter_part(exclude_re=split_regexes(t)),
    "opts": parse_options,
    "workers": parse_workers,
    "retries": parse_retries,
    "timeout": parse_seconds,
}
"""Per-field checks run as the user types (widget id -> parser). Fields whose check needs
another field (the template and the shell box, the options and the action, the output folder
and the roots) are checked by :mod:`tui_batch.ui.form_check`."""

FILTER_FIELDS = ("roots", "ext", "min_size", "max_size", "newer", "older", "name", "exclude",
                 "exclude_re")
"""The fields the filter (and so the live count) is built from."""


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
