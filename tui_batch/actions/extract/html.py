"""HTML (.html, .htm, .xhtml): the text a reader sees, as plain lines.

Only what a browser shows: nothing from ``<head>`` (title, metadata), ``<script>``, ``<style>``,
``<template>``, ``<noscript>`` (a browser with scripts on shows none of it) or an element marked
``hidden``. Runs of white space collapse as the browser collapses them (``<pre>`` keeps its
own); block elements (paragraphs, headings, list items, table rows, ``<br>``) start new lines,
table cells are separated by tabs. The standard library's tolerant parser copes with the
unclosed tags real pages have; a missing ``</head>`` ends where the body's first element starts,
as in a browser. The encoding comes from the user's option, a byte-order mark, the page's own
``<meta charset>``, or detection (:mod:`.plain`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ..base import TaskContext
from .common import tidy, write_output
from .plain import decode_all, detect_encoding

__all__ = ["extract_html", "html_text"]

_SKIP = frozenset({"script", "style", "head", "template", "noscript", "title"})
# what may stand inside <head>: anything else starts the body (a missing </head>)
_HEAD_CONTENT = frozenset({"title", "meta", "link", "style", "script", "base", "noscript",
                           "template"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})
# elements whose end tag may be left out: ``hidden`` on one could hide the rest of the page
_OPTIONAL_END = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th", "thead",
                           "tbody", "tfoot", "rt", "rp", "optgroup", "colgroup", "caption"})
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table",
                        "ul", "ol", "dl", "figure", "hr", "address", "fieldset", "details"})
_LINE = frozenset({"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer",
                   "nav", "main", "aside", "form", "figcaption", "summary", "caption",
                   "legend", "option", "body", "html"})
_SPACES = re.compile(r"[ \t\n\r\f]+")  # HTML's white space: a no-break space is not
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip: list[str] = []  # the open elements whose content is not shown
        self.pre = 0
        self.cell_open = False

    # -- layout ----------------------------------------------------------------------------

    def _at_line_start(self) -> bool:
        return not self.parts or self.parts[-1].endswith(("\n", "\t"))

    def _trim(self) -> None:
        """No space before a line break."""
        while self.parts and self.parts[-1].endswith(" "):
            self.parts[-1] = self.parts[-1].rstrip(" ")
            if not self.parts[-1]:
                self.parts.pop()

    def _break(self, lines: int) -> None:
        """End the current line and leave ``lines - 1`` empty ones (never more)."""
        self._trim()
        have = 0
        for part in reversed(self.parts):
            stripped = part.rstrip("\n")
            have += len(part) - len(stripped)
            if stripped:
                break
        if self.parts and have < lines:
            self.parts.append("\n" * (lines - have))

    # -- parser callbacks ------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip == ["head"] and tag not in _HEAD_CONTENT:
            self.skip.clear()  # <body> or content without </head>: the head has ended
        if self.skip:
            if tag not in _VOID:
                self.skip.append(tag)
            return
        if tag in _SKIP or (tag not in _VOID and tag not in _OPTIONAL_END
                            and any(name == "hidden" for name, _ in attrs)):
            self.skip.append(tag)
            return
        self._open(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip:
            return
        self._open(tag)  # <br/>, <hr/>: nothing to close

    def _open(self, tag: str) -> None:
        if tag == "br":
            self._trim()
            self.parts.append("\n")
        elif tag in ("td", "th"):
            if self.cell_open:
                self._trim()
                self.parts.append("\t")
            self.cell_open = True
        elif tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)
        if tag == "pre":
            self.pre += 1
        if tag == "tr":
            self.cell_open = False

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag in self.skip:
                while self.skip.pop() != tag:
                    pass
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.skip or not data:
            return
        if self.pre:
            self.parts.append(data)
            return
        text = _SPACES.sub(" ", data)
        if text.startswith(" ") and (self._at_line_start() or self.parts[-1].endswith(" ")):
            text = text[1:]
        if text:
            self.parts.append(text)


def html_text(markup: str) -> str:
    """The visible text of an HTML document, tidied (see :func:`~.common.tidy`)."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return tidy("".join(parser.parts).replace("\xa0", " "))


def _meta_charset(head: bytes) -> str | None:
    m = _META_CHARSET.search(head)
    return m.group(1).decode("ascii") if m else None


def extract_html(ctx: TaskContext, encoding: str | None) -> str | None:
    """Write the page's visible text; a note when bytes could not be decoded."""
    with open(ctx.path, "rb") as f:
        data = f.read()
    enc = encoding or detect_encoding(data[: 1 << 20], complete=len(data) <= 1 << 20,
                                      hint=_meta_charset(data[:4096]))
    markup, note = decode_all(data, enc)
    write_output(ctx, html_text(markup))
    return note
