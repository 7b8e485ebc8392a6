"""Task output as lines a terminal can draw safely, and the document a log view scrolls.

Why a module of its own, free of widgets: a command prints whatever it likes (bytes that are
not UTF-8, colour codes, cursor moves, ``\\r`` progress bars, bells), up to 10 MiB per stream,
and every one of those must reach the screen as plain, inert text, or it breaks the layout or
the terminal itself. Turning bytes into lines is done once per chunk (in a thread for big
outputs), on the whole chunk with a few regular expressions: a per-character pass over 10 MiB
would take seconds. The widget (:mod:`.log_text`) then draws only the rows on screen.

What becomes of each thing a command may print:

* bytes that are not UTF-8: ``\\xff`` (escaped, never dropped);
* ANSI escape sequences (colours, cursor moves, titles): removed;
* ``\\r`` inside a line (a progress bar redrawing itself): the line as the terminal showed it
  last, the text after the last ``\\r``; ``\\r\\n`` is a plain line end;
* tabs: expanded to 8 columns; other control characters: ``\\x07``-style escapes.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, NamedTuple

__all__ = [
    "LogDocument",
    "Match",
    "Section",
    "StreamLines",
    "clean_bytes",
    "clean_lines",
    "clean_text",
    "find_matches",
    "search_pattern",
]

_ANSI = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    rb"|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    rb"|[PX^_][^\x1b\n]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    rb"|[ -/]*[0-~])"  # two- and three-byte escapes
)
_REDRAWN = re.compile(rb"^[^\n]*\r(?=[^\r\n])", re.MULTILINE)
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_CONTROLS = [bytes([c]) for c in _CONTROL_BYTES]
_C1 = [(f"\\x{c:02x}", chr(c).encode()) for c in range(0x80, 0xA0)]
_SEPARATORS = [("\\u2028", "\u2028".encode()), ("\\u2029", "\u2029".encode())]
MAX_MATCHES = 100_000
"""Search stops counting here (the count then reads "100,000+")."""


def clean_bytes(data: bytes) -> bytes:
    """``data`` with nothing left that a terminal would act on but newlines and tabs.

    Each replacement is a C-speed ``in`` + ``replace`` over the bytes, taken only when the
    character occurs: a regex class over every character costs 0.2 s per 10 MiB."""
    if b"\x1b" in data:
        data = _ANSI.sub(b"", data)
    if b"\r" in data:
        data = _REDRAWN.sub(b"", data.replace(b"\r\n", b"\n")).replace(b"\r", b"")
    if len(data.translate(None, _CONTROL_BYTES)) != len(data):  # one pass finds any at all
        for control in _CONTROLS:
            if control in data:
                data = data.replace(control, b"\\x%02x" % control[0])
    if b"\xc2" in data:
        for shown, encoded in _C1:
            data = data.replace(encoded, shown.encode())
    if b"\xe2\x80" in data:
        for shown, encoded in _SEPARATORS:
            data = data.replace(encoded, shown.encode())
    return data


def clean_lines(data: bytes) -> list[str]:
    """Output bytes as safe display lines (a final newline does not add an empty line)."""
    if not data:
        return []
    text = clean_bytes(data).decode("utf-8", "backslashreplace")
    if "\t" in text:
        text = text.expandtabs(8)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def clean_text(text: str) -> list[str]:
    """Already decoded output (a stored tail) as safe display lines."""
    return clean_lines(text.encode("utf-8", "surrogateescape"))


def _whole_utf8(data: bytes) -> bytes:
    """``data`` without a UTF-8 sequence cut at its end (the rest is still being written)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:  # a lead byte: how long is its sequence?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data[:-back] if need > back else data
    return data


class Fed(NamedTuple):
    """What a chunk of output adds to a :class:`StreamLines` (made off the event loop)."""

    lines: list[str]
    partial: bytes
    partial_line: str | None
    size: int


class StreamLines:
    """One stream's lines, fed chunk by chunk while a task runs. A last line without its
    newline yet is shown, and replaced when the rest of it arrives."""

    def __init__(self, data: bytes = b"") -> None:
        self.lines: list[str] = []
        """The display lines so far (shared with the document that shows them)."""
        self.size = 0
        """Bytes fed."""
        self.width = 0
        """Characters in the longest line."""
        self._partial = b""
        self._partial_shown = False
        if data:
            self.feed(data)

    def prepare(self, data: bytes) -> Fed:
        """Clean ``data`` (safe in a thread: it changes nothing; :meth:`apply` it after)."""
        data = self._partial + data
        end = data.rfind(b"\n") + 1
        partial = data[end:]
        line = None
        if partial:
            shown = clean_lines(_whole_utf8(partial))
            line = shown[0] if shown else ""
        return Fed(clean_lines(data[:end]), partial, line, len(data) - len(self._partial))

    def apply(self, fed: Fed) -> None:
        """Add what :meth:`prepare` made of a chunk (on the thread that draws)."""
        if self._partial_shown:
            self.lines.pop()
        self.lines.extend(fed.lines)
        self._partial = fed.partial
        self._partial_shown = fed.partial_line is not None
        if fed.partial_line is not None:
            self.lines.append(fed.partial_line)
        self.size += fed.size
        new = fed.lines if fed.partial_line is None else [*fed.lines[-1:], fed.partial_line]
        if new:
            self.width = max(self.width, max(map(len, fed.lines or new)), len(new[-1]))

    def feed(self, data: bytes) -> None:
        """Add a chunk of output."""
        if data:
            self.apply(self.prepare(data))


@dataclass(eq=False)
class Section:
    """A run of rows of one kind: a header row, an optional row before the lines, the lines,
    an optional note after them (where output was cut). ``kind`` names the lines' style:
    ``out``, ``err`` or ``info`` (lines that are rich Text, drawn as they are)."""

    kind: str
    lines: list[Any] = field(default_factory=list)
    title: str | None = None
    lead: str | None = None
    note: str | None = None
    width: int = 0
    """Characters in the longest line (kept by the builder; with a stream, the stream's)."""
    stream: StreamLines | None = None
    """The stream whose lines these are, when they grow while the task runs."""

    def rows(self) -> int:
        """Rows this section takes."""
        return (self.title is not None) + (self.lead is not None) + len(self.lines) + (
            self.note is not None
        )

    def row(self, i: int) -> tuple[str, Any]:
        """Row ``i`` of the section: (style kind, text)."""
        if self.title is not None:
            if i == 0:
                return "head", self.title
            i -= 1
        if self.lead is not None:
            if i == 0:
                return "note", self.lead
            i -= 1
        if i < len(self.lines):
            return self.kind, self.lines[i]
        return "note", self.note

    def first_line(self) -> int:
        """The section's row where its lines start."""
        return (self.title is not None) + (self.lead is not None)


class Match(NamedTuple):
    """One search hit: document row, start and end character in that row."""

    row: int
    start: int
    end: int


class LogDocument:
    """The rows a log view scrolls: its sections one after the other."""

    def __init__(self, sections: list[Section] | None = None) -> None:
        self.sections: list[Section] = sections or []
        """In display order."""

    def __len__(self) -> int:
        return sum(s.rows() for s in self.sections)

    @property
    def width(self) -> int:
        """Characters in the longest row."""
        widths = [max(s.width, s.stream.width if s.stream else 0) for s in self.sections]
        heads = [len(t) for s in self.sections for t in (s.title, s.lead, s.note) if t]
        return max([0, *widths, *heads])

    def row(self, y: int) -> tuple[str, Any]:
        """Row ``y``: (style kind: head, note, out, err, info; its text). Past the end: blank."""
        for section in self.sections:
            n = section.rows()
            if y < n:
                return section.row(y)
            y -= n
        return "out", ""

    def start_of(self, section: Section) -> int:
        """The document row of ``section``'s first row."""
        y = 0
        for s in self.sections:
            if s is section:
                return y
            y += s.rows()
        raise ValueError("not a section of this document")

    def find(self, kind: str) -> Section | None:
        """The first section whose lines are of ``kind``."""
        return next((s for s in self.sections if s.kind == kind), None)

    def text_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(first document row, lines) of each run of plain rows, for search."""
        y = 0
        for s in self.sections:
            for kind_text in (s.title, s.lead):
                if kind_text is not None:
                    yield y, [kind_text]
                    y += 1
            lines = s.lines if s.kind != "info" else [getattr(t, "plain", str(t)) for t in s.lines]
            yield y, lines
            y += len(lines)
            if s.note is not None:
                yield y, [s.note]
                y += 1


def search_pattern(query: str) -> re.Pattern[str] | None:
    """What ``/`` looks for: the text as typed, any case unless it has an upper-case letter
    (as the task list's filter: upper case makes it exact). None for an empty query."""
    if not query:
        return None
    flags = 0 if any(c.isupper() for c in query) else re.IGNORECASE
    return re.compile(re.escape(query), flags)


def find_matches(
    doc: LogDocument, pattern: re.Pattern[str], limit: int = MAX_MATCHES
) -> list[Match]:
    """Every hit of ``pattern`` in ``doc``, in order (at most ``limit``). Each run of lines is
    searched as one text, so 200,000 lines cost one regex pass, not 200,000."""
    found: list[Match] = []
    for first, lines in doc.text_rows():
        if not lines:
            continue
        text = "\n".join(lines)
        starts: list[int] | None = None
        for m in pattern.finditer(text):
            if starts is None:
                starts = [0, *accumulate(len(line) + 1 for line in lines)]
            i = bisect_right(starts, m.start()) - 1
            found.append(Match(first + i, m.start() - starts[i], m.end() - starts[i]))
            if len(found) >= limit:
                return found
    return found
