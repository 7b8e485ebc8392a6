"""Turn user text (CLI flags, TUI form fields, recipe dicts) into a validated FilterSpec, and
compile a FilterSpec into the fast predicates the scanner and watch mode call per path.

Parsing and matching live together so that the CLI, the TUI, recipes, the scanner and watch
mode cannot disagree about what ``--min-size 1.5MiB`` or ``--exclude build`` means.

Matching rules (documented once, here):

* ``--ext``: case-insensitive suffix of the base name (``.log`` matches ``A.LOG``; ``tar.gz``
  is allowed). Normalised to lower case with one leading dot.
* ``--min-size`` / ``--max-size``: inclusive bounds in bytes (fd's ``+``/``-`` semantics).
* ``--newer`` keeps files modified at or after the instant, ``--older`` strictly before it.
* ``--name``: ``re.search`` in the base name, case-sensitive (use ``(?i)`` to ignore case).
* ``--exclude``: a value without glob characters is an exact path (absolute, or relative to
  the current folder) that is pruned; a plain name without ``/`` additionally prunes every
  entry with that base name (``--exclude node_modules``, as fd users expect), and a relative
  value with ``/`` is also compared with the root-relative path. A value with ``* ? [`` is a
  gitignore-style glob: without ``/`` it is matched against the base name at any depth, with
  ``/`` against the root-relative path (``*`` stops at ``/``, ``**`` crosses folders), and an
  absolute glob against the absolute path. A trailing ``/`` restricts it to folders.
* ``--exclude-re``: ``re.search`` in the root-relative path (``/``-separated); for a folder
  it is also tried on ``rel + "/"`` so ``build/`` prunes a folder named build.
* hidden: the base name (of the file or of any folder below the root) starts with ``.``.
* Excluded or hidden folders are pruned: nothing below them is listed.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import stat as _stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import pathspec

from .errors import InputError
from .model import FileEntry, FilterSpec

__all__ = [
    "IGNORE_FILES",
    "CompiledFilter",
    "IgnoreChain",
    "check_out_dir",
    "compile_filter",
    "filter_from_dict",
    "filter_from_options",
    "ignored",
    "load_ignore_spec",
    "normalise_ext",
    "parse_size",
    "parse_when",
]

# --------------------------------------------------------------------------------------------
# sizes

_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ti": 1024**4,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str | int, field: str) -> int:
    """Bytes from ``10k``, ``1.5MiB``, ``2GB``, ``512``; fd's units, so fd users guess right.

    ``k``/``kb`` are powers of 1000 and ``ki``/``kib`` powers of 1024 (as fd has them);
    case does not matter. Fractions are rounded to the nearest byte.
    """
    if isinstance(text, bool):
        raise InputError(field, f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise InputError(field, f"size must be 0 or more, got {text}")
        return text
    m = _SIZE_RE.fullmatch(str(text))
    if not m:
        raise InputError(field, f"not a size: {text!r} (examples: 500, 10k, 1.5MiB, 2GB)")
    unit = m.group(2).lower()
    if unit not in _SIZE_UNITS:
        raise InputError(
            field,
            f"unknown size unit {m.group(2)!r} in {text!r} "
            "(use b, k, kb, ki, kib, m, mb, mi, mib, g, gb, gi, gib, t, tb, ti, tib)",
        )
    try:
        value = Decimal(m.group(1)) * _SIZE_UNITS[unit]
    except InvalidOperation:  # pragma: no cover - the regex only lets digits through
        raise InputError(field, f"not a size: {text!r}") from None
    return int(value.to_integral_value())


# --------------------------------------------------------------------------------------------
# times

_DURATION_UNITS: dict[str, float] = {}
for _names, _secs in (
    (("s", "sec", "secs", "second", "seconds"), 1.0),
    (("m", "min", "mins", "minute", "minutes"), 60.0),
    (("h", "hr", "hrs", "hour", "hours"), 3600.0),
    (("d", "day", "days"), 86400.0),
    (("w", "week", "weeks"), 7 * 86400.0),
    (("mo", "month", "months"), 30.44 * 86400.0),  # humantime's month, as fd
    (("y", "year", "years"), 365.25 * 86400.0),
):
    for _n in _names:
        _DURATION_UNITS[_n] = _secs
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([a-z]+)", re.IGNORECASE)


def _parse_duration(text: str) -> float | None:
    """Seconds in ``30s``, ``15min``, ``1d12h``, ``2w 3d``; None if it is not a duration."""
    pos, total, parts = 0, 0.0, 0
    s = text.strip()
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            return None
        unit = m.group(2).lower()
        if unit not in _DURATION_UNITS:
            return None
        total += float(m.group(1)) * _DURATION_UNITS[unit]
        pos = m.end()
        parts += 1
    return total if parts else None


def parse_when(text: str | float | _dt.datetime, field: str, now: float | None = None) -> float:
    """Epoch seconds from an ISO date/datetime or a relative age (``7d`` = 7 days ago).

    Relative forms are measured back from ``now`` (default: the current time) because that is
    what ``--newer 7d`` means to fd users. Naive ISO times are local time, like ``touch -d``.
    ``@1700000000`` (epoch seconds) and ``now`` are accepted too.
    """
    if isinstance(text, bool):
        raise InputError(field, f"not a date or age: {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise InputError(field, f"not a date or age: {text!r}")
        return float(text)
    if isinstance(text, _dt.datetime):
        return text.timestamp()
    s = str(text).strip()
    if not s:
        raise InputError(field, "empty date or age")
    ref = time.time() if now is None else now
    if s.lower() == "now":
        return ref
    if s.startswith("@"):
        try:
            epoch = float(s[1:])
        except ValueError:
            raise InputError(field, f"not an epoch time: {s!r}") from None
        if not math.isfinite(epoch):
            raise InputError(field, f"not an epoch time: {s!r}")
        return epoch
    dur = _parse_duration(s)
    if dur is not None:
        return ref - dur
    try:
        if len(s) == 10:  # a date alone: local midnight
            d = _dt.date.fromisoformat(s)
            return _dt.datetime(d.year, d.month, d.day).timestamp()
        iso = s[:-1] + "+00:00" if s[-1:] in "zZ" else s
        return _dt.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        pass
    raise InputError(
        field,
        f"not a date or age: {s!r} (examples: 2024-05-01, 2024-05-01T12:00, 7d, 12h, 1d12h)",
    )


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
    if _has_glob(value):
        try:
            re.compile(_glob_to_regex(value.rstrip("/") or "/"))
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


# --------------------------------------------------------------------------------------------
# globs

_GLOB_CHARS = frozenset("*?[")


def _has_glob(s: str) -> bool:
    return not _GLOB_CHARS.isdisjoint(s)


def _glob_to_regex(glob: str) -> str:
    """Gitignore-style glob -> regex source (no groups, so several can be OR-ed together).

    ``*`` and ``?`` stop at ``/``; a ``**`` path segment matches any number of folders.
    """
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                at_seg_start = i == 0 or glob[i - 1] == "/"
                j = i + 2
                if at_seg_start and j < n and glob[j] == "/":
                    out.append("(?:.*/)?")  # '**/' : zero or more folders
                    i = j + 1
                    continue
                if at_seg_start and j == n:
                    out.append(".*")  # trailing '**': everything below
                    i = j
                    continue
                out.append("[^/]*")
                i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and glob[j] in "!^":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _alternation(sources: list[str]) -> re.Pattern[str] | None:
    if not sources:
        return None
    return re.compile("(?s:" + "|".join(f"(?:{s})" for s in sources) + r")\Z")


# --------------------------------------------------------------------------------------------
# ignore files

IGNORE_FILES: tuple[str, ...] = (".gitignore", ".ignore", ".tbignore")
"""Read in this order from one folder; a later file's rules win (as .ignore beats .gitignore
in fd and ripgrep, and .tbignore, ours, beats both)."""

# One level of ignore rules: (characters of the root-relative path to strip, rules).
IgnoreChain = tuple[tuple[int, pathspec.GitIgnoreSpec], ...]


def load_ignore_spec(
    dirpath: str, names: Iterable[str] = IGNORE_FILES
) -> pathspec.GitIgnoreSpec | None:
    """Rules from the ignore files of one folder, or None if it has none (or none readable).

    Files are decoded with surrogateescape so a pattern naming a non-UTF-8 file matches the
    surrogate-escaped str the scanner produces for it.
    """
    lines: list[str] = []
    for name in names:
        try:
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
        except OSError:
            continue
        lines.extend(data.decode("utf-8", "surrogateescape").splitlines())
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def ignored(chain: IgnoreChain, rel: str, is_dir: bool) -> bool:
    """Gitignore semantics across nested files: the deepest folder with a matching rule wins,
    and inside one folder the last matching rule (``!pattern`` re-includes)."""
    for strip, spec in reversed(chain):
        sub = rel[strip:]
        res = spec.check_file(sub + "/" if is_dir else sub)
        if res.include is not None:
            return bool(res.include)
    return False


# --------------------------------------------------------------------------------------------
# compiled filter


class CompiledFilter:
    """A FilterSpec turned into cheap predicates for the scanner's hot loop and watch mode.

    The scanner reads the public attributes directly (``exts``, ``hidden``, ``min_size``, ...)
    to avoid a method call per directory entry; everything else calls the methods.
    """

    def __init__(self, spec: FilterSpec) -> None:
        self.spec = spec
        self.roots: tuple[str, ...] = tuple(os.fspath(r) for r in spec.roots) or (".",)
        self.exts: tuple[str, ...] | None = tuple(spec.extensions) or None
        self.hidden: bool = spec.hidden
        self.follow: bool = spec.follow
        self.use_ignore: bool = spec.use_ignore
        self.min_size: int = spec.min_size or 0
        self.max_size: int | None = spec.max_size
        self.newer_ns: int | None = None if spec.newer is None else int(spec.newer * 1e9)
        self.older_ns: int | None = None if spec.older is None else int(spec.older * 1e9)
        self.name_search: Callable[[str], Any] | None = (
            re.compile(spec.name_regex).search if spec.name_regex else None
        )
        self._ex_res = [re.compile(x).search for x in spec.exclude_res]

        name_any: list[str] = []
        name_dir: list[str] = []
        rel_any: list[str] = []
        rel_dir: list[str] = []
        abs_any: list[str] = []
        abs_dir: list[str] = []
        self._ex_names: set[str] = set()  # literal base names (``--exclude node_modules``)
        self._ex_dir_names: set[str] = set()  # the same with a trailing '/': folders only
        rel_literals: set[str] = set()
        abs_paths: set[str] = set()
        for raw in spec.excludes:
            dir_only = raw.endswith("/") and raw.strip("/") != ""
            x = raw.rstrip("/") or "/"
            if _has_glob(x):
                if os.path.isabs(x):
                    (abs_dir if dir_only else abs_any).append(_glob_to_regex(os.path.normpath(x)))
                    continue
                if x.startswith("./"):
                    x = x[2:]
                if x.startswith("**/") and "/" not in x[3:]:
                    x = x[3:]  # '**/name' is the same as 'name'
                if "/" in x:
                    (rel_dir if dir_only else rel_any).append(_glob_to_regex(x.lstrip("/")))
                else:
                    (name_dir if dir_only else name_any).append(_glob_to_regex(x))
                continue
            abs_paths.add(os.path.abspath(x))
            abs_paths.add(os.path.realpath(x))
            if not os.path.isabs(x):
                norm = os.path.normpath(x)
                if "/" not in norm and norm not in (".", ".."):
                    (self._ex_dir_names if dir_only else self._ex_names).add(norm)
                elif not norm.startswith(("../", "./")) and norm not in (".", ".."):
                    rel_literals.add(norm)
        self._ex_name_any = _alternation(name_any)
        self._ex_name_dir = _alternation(name_dir)
        self._ex_rel_any = _alternation(rel_any)
        self._ex_rel_dir = _alternation(rel_dir)
        self._ex_abs_any = _alternation(abs_any)
        self._ex_abs_dir = _alternation(abs_dir)

        # Exact excluded paths, per root, as root-relative paths ('' = the whole root).
        self._abs_roots: list[tuple[str, str]] = []
        self._ex_rel_by_root: list[set[str]] = []
        for r in self.roots:
            ar, rr = os.path.abspath(r), os.path.realpath(r)
            self._abs_roots.append((ar, rr))
            rels = set(rel_literals)
            for p in abs_paths:
                for base in (ar, rr):
                    if p == base:
                        rels.add("")
                    elif p.startswith(base.rstrip("/") + "/"):
                        rels.add(p[len(base.rstrip("/")) + 1 :])
            self._ex_rel_by_root.append(rels)
        self.has_path_rules: bool = bool(
            self._ex_names
            or self._ex_dir_names
            or self._ex_res
            or any(self._ex_rel_by_root)
            or name_any
            or name_dir
            or rel_any
            or rel_dir
            or abs_any
            or abs_dir
        )
        self._ignore_cache: dict[str, tuple[tuple[int, ...], pathspec.GitIgnoreSpec | None]] = {}

    # -- helpers ----------------------------------------------------------------------------

    def _root_index(self, root: str | int | None) -> int:
        if isinstance(root, int):
            return root
        if root is None:
            return 0
        try:
            return self.roots.index(root)
        except ValueError:
            return -1

    def root_excluded(self, root: str | int) -> bool:
        """An ``--exclude`` naming the root itself (or a folder above it) empties that root."""
        i = self._root_index(root)
        return i >= 0 and "" in self._ex_rel_by_root[i]

    def excluded(self, rel: str, name: str, is_dir: bool, root: str | int | None = None) -> bool:
        """Exclusion rules only (not hidden, not ignore files) for one entry."""
        if name in self._ex_names:
            return True
        i = self._root_index(root)
        if i >= 0 and rel in self._ex_rel_by_root[i]:
            return True
        if self._ex_name_any is not None and self._ex_name_any.match(name):
            return True
        if self._ex_rel_any is not None and self._ex_rel_any.match(rel):
            return True
        if is_dir:
            if name in self._ex_dir_names:
                return True
            if self._ex_name_dir is not None and self._ex_name_dir.match(name):
                return True
            if self._ex_rel_dir is not None and self._ex_rel_dir.match(rel):
                return True
        if self._ex_abs_any is not None or (is_dir and self._ex_abs_dir is not None):
            ab = self._abs_roots[i][0] if i >= 0 else os.path.abspath(".")
            full = os.path.join(ab, rel)
            if self._ex_abs_any is not None and self._ex_abs_any.match(full):
                return True
            if is_dir and self._ex_abs_dir is not None and self._ex_abs_dir.match(full):
                return True
        return any(search(rel) or (is_dir and search(rel + "/")) for search in self._ex_res)

    # -- the contract -----------------------------------------------------------------------

    def excluded_dir(self, rel: str, name: str, root: str | int | None = None) -> bool:
        """True if the scanner must not descend into this folder (hidden or excluded).

        ``root`` (the spec root or its index) only matters for exact-path excludes with several
        roots; it defaults to the first root.
        """
        if not self.hidden and name[:1] == ".":
            return True
        return self.has_path_rules and self.excluded(rel, name, True, root)

    def match_name(self, rel: str, name: str, root: str | int | None = None) -> bool:
        """The checks that need no stat: hidden, extension, name regex, excludes."""
        if not self.hidden and name[:1] == ".":
            return False
        if self.exts is not None and not name.lower().endswith(self.exts):
            return False
        if self.name_search is not None and not self.name_search(name):
            return False
        return not (self.has_path_rules and self.excluded(rel, name, False, root))

    def match_meta(self, size: int, mtime_ns: int) -> bool:
        """Size and modification-time bounds (inclusive min/max, newer <= t < older)."""
        if size < self.min_size or (self.max_size is not None and size > self.max_size):
            return False
        if self.newer_ns is not None and mtime_ns < self.newer_ns:
            return False
        return not (self.older_ns is not None and mtime_ns >= self.older_ns)

    def match_file(
        self, rel: str, name: str, size: int, mtime: float, root: str | int | None = None
    ) -> bool:
        """Every per-file rule for one file; ``mtime`` in epoch seconds (``st_mtime``).

        Folder rules for the ancestors are not checked here (the scanner prunes them; use
        :meth:`match_path` for a lone path).
        """
        return self.match_name(rel, name, root) and self.match_meta(size, int(mtime * 1e9))

    def locate(self, path: str) -> tuple[int, str] | None:
        """(root index, root-relative path) of ``path`` under one of the roots, or None.

        Tries the path as given, then resolved, against each root as given and resolved, so
        watch events reporting either form are recognised.
        """
        cands = [os.path.abspath(path)]
        real = os.path.realpath(path)
        if real != cands[0]:
            cands.append(real)
        for p in cands:
            for i, (ar, rr) in enumerate(self._abs_roots):
                for base in (ar, rr):
                    b = base.rstrip("/")
                    if p.startswith(b + "/") and len(p) > len(b) + 1:
                        return i, p[len(b) + 1 :]
        return None

    def _ignore_spec_cached(self, dirpath: str) -> pathspec.GitIgnoreSpec | None:
        """Per-folder ignore rules for watch mode, reloaded when an ignore file changes."""
        sig: list[int] = []
        for n in IGNORE_FILES:
            try:
                st = os.stat(os.path.join(dirpath, n))
                sig.extend((st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                sig.extend((-1, -1, -1))
        key = tuple(sig)
        hit = self._ignore_cache.get(dirpath)
        if hit is not None and hit[0] == key:
            return hit[1]
        spec = None if all(v == -1 for v in key) else load_ignore_spec(dirpath)
        self._ignore_cache[dirpath] = (key, spec)
        return spec

    def entry_for(self, path: str, st: os.stat_result | None = None) -> FileEntry | None:
        """The FileEntry the scanner would produce for this one path, or None if not selected.

        For watch mode: considers every rule a full scan would (folders on the way hidden or
        excluded, ignore files from the root down, extension, name, excludes, size, mtime,
        symlinks only with ``follow``). ``st`` saves a stat when the caller has one (an
        ``lstat`` result unless following symlinks). Paths outside every root give None.
        """
        stat = None if st is None else (lambda _p: st)
        return self.entries_for((path,), stat).get(path)

    def entries_for(
        self,
        paths: Iterable[str],
        stat: Callable[[str], os.stat_result | None] | None = None,
    ) -> dict[str, FileEntry]:
        """:meth:`entry_for` for a batch of paths: ``{path: FileEntry}`` of the selected ones.

        Watch mode gets thousands of files in a few folders in one burst; the folder rules
        (hidden, excluded, ignore files from the root down) are worked out once per folder per
        call instead of once per file. ``stat(path)`` gives a path's stat (an ``lstat``
        result unless following symlinks) or None when it is gone; default: the file system.
        """
        folders: dict[tuple[int, str], IgnoreChain | None] = {}  # None: folder not selected
        out: dict[str, FileEntry] = {}
        for path in paths:
            loc = self._locate_fast(path)
            if loc is None or self.root_excluded(loc[0]):
                continue
            i, rel = loc
            dir_rel, _, name = rel.rpartition("/")
            chain = self._folder_chain(folders, i, dir_rel)
            if chain is None or not self.match_name(rel, name, i):
                continue
            if chain and ignored(chain, rel, False):
                continue
            root = self.roots[i]
            full = os.path.join(root, rel)
            entry = self._entry(root, rel, full, stat(path) if stat else self._stat(full))
            if entry is not None:
                out[path] = entry
        return out

    def _locate_fast(self, path: str) -> tuple[int, str] | None:
        # events name paths under a root as given: a prefix test avoids two realpath calls
        for i, r in enumerate(self.roots):
            b = r.rstrip("/") + "/"
            if path.startswith(b) and len(path) > len(b):
                return i, path[len(b) :]
        return self.locate(path)

    def _folder_chain(
        self, folders: dict[tuple[int, str], IgnoreChain | None], i: int, dir_rel: str
    ) -> IgnoreChain | None:
        """The ignore rules in force inside one folder, or None if the folder is not scanned
        (excluded, hidden, or ignored itself or on the way); memoised in ``folders``."""
        key = (i, dir_rel)
        if key in folders:
            return folders[key]
        root = self.roots[i]
        if dir_rel:
            parent_rel, _, comp = dir_rel.rpartition("/")
            parent = self._folder_chain(folders, i, parent_rel)
            if parent is None or self.excluded_dir(dir_rel, comp, i) or (
                parent and ignored(parent, dir_rel, True)
            ):
                folders[key] = None
                return None
            chain, prefix = parent, len(dir_rel) + 1
        else:
            chain, prefix = (), 0
        if self.use_ignore:
            spec = self._ignore_spec_cached(os.path.join(root, dir_rel) if dir_rel else root)
            if spec is not None:
                chain = (*chain, (prefix, spec))
        folders[key] = chain
        return chain

    def _stat(self, full: str) -> os.stat_result | None:
        try:
            return os.stat(full) if self.follow else os.lstat(full)
        except OSError:
            return None

    def _entry(
        self, root: str, rel: str, full: str, st: os.stat_result | None
    ) -> FileEntry | None:
        """The size, time and file-type rules for one path whose name and folders passed."""
        if st is None:
            return None
        if _stat.S_ISLNK(st.st_mode):
            if not self.follow:
                return None
            try:
                st = os.stat(full)
            except OSError:
                return None
        if not _stat.S_ISREG(st.st_mode):
            return None
        if not self.follow and os.path.islink(full):
            return None
        if not self.match_meta(st.st_size, st.st_mtime_ns):
            return None
        return FileEntry(full, root, rel, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)

    def match_path(self, path: str, st: os.stat_result | None = None) -> bool:
        """Would a full scan select this path? (See :meth:`entry_for`; this is its bool.)"""
        return self.entry_for(path, st) is not None


def compile_filter(spec: FilterSpec) -> CompiledFilter:
    """Compile once per scan (or per watch session): regexes and globs are built here."""
    return CompiledFilter(spec)
