"""Human-readable numbers for the screens (sizes, rates, durations, dates).

Kept apart from the widgets so every screen formats the same way and tests can check the
text without a running app.
"""

from __future__ import annotations

import datetime as _dt

import humanize

_BINARY = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
_DECIMAL = (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3))


def size(n: int | float | None) -> str:
    """``1.5 MiB`` style, as users of ``ls -h`` / ``du -h`` read sizes."""
    if n is None:
        return "-"
    if abs(n) < 1024:
        return f"{int(n)} B"
    return humanize.naturalsize(n, binary=True, format="%.1f")


def size_input(n: int | None) -> str:
    """A size as typed into the form: exact, shortest (``10MiB``, ``1500``, ``2GB``)."""
    if n is None:
        return ""
    exact = [f"{n // f}{u}" for u, f in (*_BINARY, *_DECIMAL) if n >= f and n % f == 0]
    return min(exact, key=len) if exact else str(n)


def count(n: int) -> str:
    """``12,345``."""
    return f"{n:,}"


def rate(n: float, unit: str) -> str:
    """``1.2k files/s``; compact enough for an 80-column stats panel."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M {unit}/s"
    if n >= 10_000:
        return f"{n / 1000:.0f}k {unit}/s"
    if n >= 1000:
        return f"{n / 1000:.1f}k {unit}/s"
    if n >= 10:
        return f"{n:.0f} {unit}/s"
    return f"{n:.1f} {unit}/s"


def byte_rate(n: float) -> str:
    """``3.4 MiB/s``."""
    return size(n) + "/s"


def clock_duration(seconds: float | None) -> str:
    """``0:01:23``: elapsed time that does not change width every second."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


def eta(seconds: float | None, finished: bool = False, paused: bool = False) -> str:
    """``about 2 minutes`` (humanize), ``done``, ``paused`` (no estimate while nothing
    starts) or ``-`` when unknown."""
    if finished:
        return "done"
    if paused:
        return "paused"
    if seconds is None:
        return "-"
    if seconds < 1:
        return "< 1 second"
    return humanize.naturaldelta(_dt.timedelta(seconds=seconds))


def ago(epoch: float | None, now: float) -> str:
    """``3 minutes ago`` relative to an injected clock (snapshots stay stable)."""
    if epoch is None:
        return "-"
    return humanize.naturaltime(_dt.timedelta(seconds=max(0.0, now - epoch)))


def timestamp(epoch: float | None) -> str:
    """``2024-05-01 12:00`` local time; the width is constant for table columns."""
    if epoch is None:
        return "-"
    return _dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M")


def percent(value: float | None) -> str:
    """``98.5%`` or ``-``."""
    return "-" if value is None else f"{value * 100:.1f}%"


def when_input(epoch: float | None) -> str:
    """An epoch as typed into the form (ISO, local time, seconds dropped when zero)."""
    if epoch is None:
        return ""
    d = _dt.datetime.fromtimestamp(epoch)
    if d.hour == d.minute == d.second == 0:
        return d.strftime("%Y-%m-%d")
    return d.strftime("%Y-%m-%dT%H:%M" if d.second == 0 else "%Y-%m-%dT%H:%M:%S")
