"""The dashboard's two statistics lines, laid out to a width without ever breaking a pair.

The counters ("done 54,321") and the rates ("12 files/s") are label-and-number pairs. Left to
the terminal's word wrap, a long line splits "failed" from its number and grows a line as the
numbers grow, which shifts the whole screen while a job runs. So the lines are packed here, as
plain data: each pair is kept whole, the block is always exactly two lines, and what does not
fit is dropped in a fixed order of importance (a zero that says nothing first, a rate last),
never cut. No Textual: the panel renders what this returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len

SEPARATOR = "  "
"""Between two pairs on a line."""

BEFORE_FLOW = 10
"""Pairs whose :attr:`Pair.drop` is at least this go before the lines are flowed (a zero
count says little; moving every pair after it to another line costs more)."""


@dataclass(frozen=True, slots=True)
class Pair:
    """One item of a statistics line: its markup, its plain text (for its width) and how
    readily it is dropped when the lines are short of room (0: never)."""

    markup: str
    """What is shown (Textual content markup)."""
    text: str
    """The same without markup: its width on screen is this text's."""
    drop: int = 0
    """Dropped when room is short, the highest first (0: kept always)."""

    @property
    def cells(self) -> int:
        """Width on screen."""
        return cell_len(self.text)


def pair(label: str, value: str, style: str = "b", *, drop: int = 0, after: bool = False) -> Pair:
    """``label value`` with the value in ``style`` (``value label`` with ``after``)."""
    shown = f"[{style}]{value}[/]" if style else value
    if after:
        return Pair(f"{shown} {label}", f"{value} {label}", drop)
    return Pair(f"{label} {shown}", f"{label} {value}", drop)


def plural(n: int, word: str) -> str:
    """``1 worker``, ``3 workers``, ``1,000 tasks``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def line_width(pairs: Sequence[Pair]) -> int:
    """Cells taken by ``pairs`` on one line."""
    if not pairs:
        return 0
    return sum(p.cells for p in pairs) + cell_len(SEPARATOR) * (len(pairs) - 1)


def _flow(pairs: Sequence[Pair], width: int) -> tuple[list[Pair], list[Pair]] | None:
    """``pairs`` in order over two lines of ``width`` (None: they do not fit)."""
    first: list[Pair] = []
    second: list[Pair] = []
    for p in pairs:
        if not second and line_width([*first, p]) <= width:
            first.append(p)
        elif line_width([*second, p]) <= width:
            second.append(p)
        else:
            return None
    return first, second


def pack(counts: Sequence[Pair], rates: Sequence[Pair], width: int) -> tuple[str, str]:
    """The two lines (markup) for ``counts`` and ``rates`` at ``width`` cells.

    As room allows: the counts on the first line and the rates on the second; else, once
    the pairs dropped first (:data:`BEFORE_FLOW`) are gone, both flowed over the two lines,
    a pair never split; else more pairs dropped, the highest :attr:`Pair.drop` first, until
    they fit; at a width where even the kept pairs do not fit, the second line ends where its
    last whole pair does."""
    width = max(1, width)
    counts, rates = list(counts), list(rates)
    while True:
        if line_width(counts) <= width and line_width(rates) <= width:
            return _join(counts), _join(rates)
        droppable = [p for p in (*counts, *rates) if p.drop]
        if not any(p.drop >= BEFORE_FLOW for p in droppable):
            flowed = _flow([*counts, *rates], width)
            if flowed is not None:
                return _join(flowed[0]), _join(flowed[1])
        if not droppable:
            break
        worst = max(droppable, key=lambda p: p.drop)
        if worst in counts:
            counts.remove(worst)
        else:
            rates.remove(worst)
    first: list[Pair] = []
    second: list[Pair] = []
    for p in (*counts, *rates):  # too narrow for what is kept: cut between pairs
        if not second and line_width([*first, p]) <= width:
            first.append(p)
        elif line_width([*second, p]) <= width:
            second.append(p)
        else:
            break
    return _join(first), _join(second)


def _join(pairs: Sequence[Pair]) -> str:
    return SEPARATOR.join(p.markup for p in pairs)
