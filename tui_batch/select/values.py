"""Sizes and times as people type them (``1.5MiB``, ``7d``, ``2024-05-01``) -> bytes and epoch
seconds.

One parser for every client: the CLI flags, the TUI form (which checks a field as it is typed),
recipes and stored jobs all go through these two functions, so ``--min-size 10k`` can never mean
one thing on the command line and another in a recipe. Units follow fd, so fd users guess right.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import time
from decimal import Decimal, InvalidOperation

from ..errors import InputError

__all__ = ["parse_size", "parse_when"]

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
