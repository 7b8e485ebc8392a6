"""Turn user text (CLI flags, TUI form fields, recipe dicts) into a validated FilterSpec.

Every client goes through :func:`filter_from_options` (flags, form fields) or
:func:`filter_from_dict` (recipes, stored jobs), so the CLI, the TUI, recipes and the Python API
refuse the same mistakes with the same words: every error is an :class:`InputError` naming the
flag (``--min-size``) or the key (``filter.min_size``). What the values then *match* is the
matcher's business (:mod:`.matcher`); this module only parses and checks them.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import InputError
from ..model import FilterSpec
from .globs import glob_to_regex, has_glob
from .values import parse_size, parse_when

__all__ = ["check_out_dir", "filter_from_dict", "filter_from_options", "normalise_ext"]

# --------------------------------------------------------------------------------------------
# building a spec


def normalise_ext(ext: str, field: str = "--ext") -> str:
    """``log``, ``.LOG`` and ``*.log`` all mean ``.log``: users type all three."""
    e = ext.strip().lower()
    if e.startswith("*"):
        e = e[1:]
    e = e.lstrip(".")
    if not e or "/" in e or os.sep in e:
        raise InputError(field, f"not an extension: {ext!r}")
    return "." + e


def _check_regex(pattern: str, field: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InputError(field, f"bad regular expression {pattern!r}: {exc}") from None
    return pattern


def _check_roots(roots: Sequence[str]) -> None:
    for r in roots:
        if not r:
            raise InputError("ROOT", "empty folder name")
        if not os.path.exists(r):
            raise InputError("ROOT", f"no such folder: {r!r}")
        if not os.path.isdir(r):
            raise InputError("ROOT", f"not a folder: {r!r}")


def _str_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        out = []
        for v in value:
            if not isinstance(v, str):
                raise InputError(field, f"expected text, got {v!r}")
            out.append(v)
        return out
    raise InputError(field, f"expected a list of text, got {value!r}")


def _validate(spec: FilterSpec, *, check_roots: bool, fields: Mapping[str, str]) -> FilterSpec:
    """Cross-field checks shared by the CLI/TUI path and the dict (recipe/store) path."""
    if spec.min_size is not None and spec.max_size is not None and spec.min_size > spec.max_size:
        raise InputError(
            fields["min_size"],
            f"minimum size ({spec.min_size} bytes) is larger than maximum size "
            f"({spec.max_size} bytes)",
        )
    if spec.newer is not None and spec.older is not None and spec.newer >= spec.older:
        raise InputError(
            fields["newer"],
            "the --newer time is not before the --older time: no file can match",
        )
    if check_roots:
        _check_roots(spec.roots)
    return spec


_OPTION_FIELDS = {"min_size": "--min-size", "newer": "--newer"}


def filter_from_options(
    roots: Sequence[str] | str | None = None,
    ext: Sequence[str] | str | None = None,
    min_size: str | int | None = None,
    max_size: str | int | None = None,
    newer: str | float | None = None,
    older: str | float | None = None,
    name: str | None = None,
    exclude: Sequence[str] | str | None = None,
    exclude_re: Sequence[str] | str | None = None,
    hidden: bool = False,
    follow: bool = False,
    no_ignore: bool = False,
    *,
    now: float | None = None,
    check_roots: bool = True,
) -> FilterSpec:
    """Raw user text in (CLI flags, TUI fields), validated FilterSpec out.

    Empty strings count as "not given" so a TUI form can pass its fields straight through.
    Every mistake raises :class:`InputError` naming the flag, so the CLI and the TUI report it
    from the same exception. ``now`` pins relative times (tests, live count in the TUI).
    """
    root_list = [os.path.expanduser(r) for r in _str_list(roots, "ROOT") if r != ""] or ["."]
    exts = [normalise_ext(e) for e in _str_list(ext, "--ext") if e.strip()]
    spec = FilterSpec(
        roots=_dedupe_roots(root_list),
        extensions=list(dict.fromkeys(exts)),
        min_size=None if min_size is None or min_size == "" else parse_size(min_size, "--min-size"),
        max_size=None if max_size is None or max_size == "" else parse_size(max_size, "--max-size"),
        newer=None if newer is None or newer == "" else parse_when(newer, "--newer", now),
        older=None if older is None or older == "" else parse_when(older, "--older", now),
        name_regex=None if not name else _check_regex(name, "--name"),
        excludes=[_check_exclude(x, "--exclude") for x in _str_list(exclude, "--exclude") if x],
        exclude_res=[
            _check_regex(x, "--exclude-re") for x in _str_list(exclude_re, "--exclude-re") if x
        ],
        hidden=bool(hidden),
        follow=bool(follow),
        use_ignore=not no_ignore,
    )
    return _validate(spec, check_roots=check_roots, fields=_OPTION_FIELDS)


def _dedupe_roots(roots: list[str]) -> list[str]:
    """The same folder named twice would list every file twice."""
    seen: set[str] = set()
    out = []
    for r in roots:
        key = os.path.abspath(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _check_exclude(value: str, field: str) -> str:
    if has_glob(value):
        try:
            re.compile(glob_to_regex(value.rstrip("/") or "/"))
        except re.error as exc:
            raise InputError(field, f"bad glob {value!r}: {exc}") from None
    return value


def check_out_dir(roots: Sequence[str], out_dir: str | None) -> None:
    """Refuse an output folder that is an input root, however it is spelled.

    Compared as real paths, so a symlink to the root, ``root/sub/..`` or a root given through
    a link all count: the scan prunes the output folder, so such a job would silently select
    no file (and its outputs would land among the inputs). Shared by every client (the CLI
    here, the TUI form and the Python API through ``jobs.plan_job``).
    """
    if not out_dir:
        return
    out_abs = os.path.abspath(os.path.expanduser(out_dir))
    out_real = os.path.realpath(out_abs)
    for root in roots:
        root_abs = os.path.abspath(os.path.expanduser(root))
        if out_abs == root_abs or out_real == os.path.realpath(root_abs):
            how = "" if out_abs == root_abs else f" ({out_dir!r} and {root!r} are one folder)"
            raise InputError("--out", f"the output folder cannot be the input folder{how}")


_DICT_KEYS = set(FilterSpec.__dataclass_fields__)
_DICT_FIELDS = {"min_size": "filter.min_size", "newer": "filter.newer"}


def filter_from_dict(
    d: Mapping[str, Any], *, check_roots: bool = True, now: float | None = None
) -> FilterSpec:
    """A FilterSpec from a stored job or a recipe's ``[filter]`` table, validated like flags.

    Values may be already parsed (ints, epoch floats: what ``to_dict`` writes) or user text
    (``"10MiB"``, ``"7d"``: what a person writes in a recipe). Errors name the key as
    ``filter.<key>``. ``check_roots=False`` lets ``resume`` load a job whose root is gone.
    """
    if not isinstance(d, Mapping):
        raise InputError("filter", f"expected a table of filter settings, got {d!r}")
    unknown = set(d) - _DICT_KEYS
    if unknown:
        raise InputError(
            "filter",
            f"unknown key(s): {', '.join(sorted(map(str, unknown)))} "
            f"(known: {', '.join(sorted(_DICT_KEYS))})",
        )

    def opt_size(key: str) -> int | None:
        v = d.get(key)
        if v is None or v == "":
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int | str):
            raise InputError(f"filter.{key}", f"not a size: {v!r}")
        return parse_size(v, f"filter.{key}")

    def opt_when(key: str) -> float | None:
        v = d.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, int | float | str | _dt.datetime) or isinstance(v, bool):
            raise InputError(f"filter.{key}", f"not a date or age: {v!r}")
        return parse_when(v, f"filter.{key}", now)

    def opt_bool(key: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            raise InputError(f"filter.{key}", f"expected true or false, got {v!r}")
        return v

    def opt_regex(key: str) -> str | None:
        v = d.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            raise InputError(f"filter.{key}", f"expected a regular expression, got {v!r}")
        return _check_regex(v, f"filter.{key}")

    roots = [os.path.expanduser(r) for r in _str_list(d.get("roots"), "filter.roots") if r]
    spec = FilterSpec(
        roots=_dedupe_roots(roots) or ["."],
        extensions=list(
            dict.fromkeys(
                normalise_ext(e, "filter.extensions")
                for e in _str_list(d.get("extensions"), "filter.extensions")
            )
        ),
        min_size=opt_size("min_size"),
        max_size=opt_size("max_size"),
        newer=opt_when("newer"),
        older=opt_when("older"),
        name_regex=opt_regex("name_regex"),
        excludes=[
            _check_exclude(x, "filter.excludes")
            for x in _str_list(d.get("excludes"), "filter.excludes")
            if x
        ],
        exclude_res=[
            _check_regex(x, "filter.exclude_res")
            for x in _str_list(d.get("exclude_res"), "filter.exclude_res")
            if x
        ],
        hidden=opt_bool("hidden", False),
        follow=opt_bool("follow", False),
        use_ignore=opt_bool("use_ignore", True),
    )
    if check_roots:
        for r in spec.roots:
            try:
                _check_roots([r])
            except InputError as exc:
                raise InputError("filter.roots", exc.message) from None
    return _validate(spec, check_roots=False, fields=_DICT_FIELDS)
