"""OpenDocument text (.odt), read with the standard library: no extra needed.

An ODT file is a ZIP package whose ``content.xml`` holds the text; walking it with ElementTree
is a few dozen lines, so odfpy (a heavier dependency, last released in 2020) would not earn
its place. Paragraphs and headings become lines, lists their items, tables tab-separated rows;
``text:s`` (repeated spaces), tabs and line breaks are honoured; footnotes, tracked deletions
and drawing shapes' anchors are not body text and are left out (a text box's paragraphs are
kept, after the paragraph that anchors it). An encrypted document says so (its manifest lists
encryption data) instead of failing in the XML parser.

The XML comes from an untrusted file: expat (>= 2.4 refuses entity expansion bombs) and
ElementTree (no external entities) parse it, and a ``content.xml`` larger than the limit below
is refused before it is decompressed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

from ..base import ActionError, TaskContext
from .common import tidy, write_output

__all__ = ["extract_odt", "odt_text"]

_MAX_XML = 512 << 20
_NS = {
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}
_MIMETYPES = (b"application/vnd.oasis.opendocument.text",
              b"application/vnd.oasis.opendocument.text-template")


def _q(tag: str) -> str:
    prefix, _, local = tag.partition(":")
    return f"{{{_NS[prefix]}}}{local}"


_P, _H = _q("text:p"), _q("text:h")
_S, _TAB, _BR = _q("text:s"), _q("text:tab"), _q("text:line-break")
_LIST, _ITEM, _HEADER = _q("text:list"), _q("text:list-item"), _q("text:list-header")
_TABLE, _ROW, _CELL = _q("table:table"), _q("table:table-row"), _q("table:table-cell")
_COVERED = _q("table:covered-table-cell")
_REPEAT = _q("table:number-columns-repeated")
_FRAME = _q("draw:frame")
_SKIP = frozenset({_q("text:note"), _q("text:tracked-changes"), _q("text:sequence-decls"),
                   _q("office:forms"), _q("text:bookmark-ref"), _q("office:annotation")})


def _inline(elem: ET.Element, out: list[str], frames: list[ET.Element]) -> None:
    """The text of a paragraph's content (spans, links, spaces); frames are kept for later."""
    if elem.text:
        out.append(elem.text)
    for child in elem:
        tag = child.tag
        if tag == _S:
            out.append(" " * int(child.get(_q("text:c"), "1") or 1))
        elif tag == _TAB:
            out.append("\t")
        elif tag == _BR:
            out.append("\n")
        elif tag == _FRAME:
            frames.append(child)
        elif tag not in _SKIP:
            _inline(child, out, frames)
        if child.tail:
            out.append(child.tail)


_ROW_GROUPS = frozenset({_q("table:table-header-rows"), _q("table:table-rows"),
                         _q("table:table-row-group")})


def _rows(table: ET.Element) -> Iterator[ET.Element]:
    """The table's own rows (not those of a table nested in a cell)."""
    for child in table:
        if child.tag == _ROW:
            yield child
        elif child.tag in _ROW_GROUPS:
            yield from _rows(child)


def _cell_text(cell: ET.Element) -> str:
    return " ".join(" ".join(_blocks(cell)).split())


def _blocks(elem: ET.Element) -> Iterator[str]:
    """Lines of the block-level content of ``elem``, in document order."""
    for child in elem:
        tag = child.tag
        if tag in (_P, _H):
            parts: list[str] = []
            frames: list[ET.Element] = []
            _inline(child, parts, frames)
            yield "".join(parts)
            for frame in frames:
                yield from _blocks_deep(frame)
        elif tag == _TABLE:
            yield ""
            for row in _rows(child):
                cells: list[str] = []
                for cell in row:
                    if cell.tag not in (_CELL, _COVERED):
                        continue
                    repeat = min(int(cell.get(_REPEAT, "1") or 1), 64)
                    cells.extend([_cell_text(cell) if cell.tag == _CELL else ""] * repeat)
                while cells and not cells[-1]:
                    cells.pop()  # a spreadsheet-like row repeats empty cells to the edge
                yield "\t".join(cells)
            yield ""
        elif tag in _SKIP:
            continue
        else:  # lists, list items, sections, indexes, text boxes: their blocks
            yield from _blocks(child)


def _blocks_deep(frame: ET.Element) -> Iterator[str]:
    for box in frame:  # draw:text-box (an image has no text: nothing)
        yield from _blocks(box)


def odt_text(content_xml: bytes) -> str:
    """The body text of an ODT ``content.xml``."""
    root = ET.fromstring(content_xml)
    body = root.find("office:body/office:text", _NS)
    if body is None:
        raise ActionError("not a valid ODT file: content.xml has no text body")
    return tidy("\n".join(_blocks(body)))


def _encrypted(z: zipfile.ZipFile) -> bool:
    try:
        manifest = z.read("META-INF/manifest.xml")
    except KeyError:
        return False
    return b"encryption-data" in manifest


def extract_odt(ctx: TaskContext) -> str | None:
    """Write the document's body text."""
    try:
        with open(ctx.path, "rb") as f, zipfile.ZipFile(f) as z:
            try:
                mimetype = z.read("mimetype").strip()
            except KeyError:
                mimetype = b""
            if mimetype and mimetype not in _MIMETYPES:
                kind = mimetype.decode("ascii", "replace")
                raise ActionError(f"not an ODT file: its type is {kind}")
            if _encrypted(z):
                raise ActionError("encrypted ODT: a password is needed to open it")
            info = z.getinfo("content.xml")
            if info.file_size > _MAX_XML:
                raise ActionError(f"ODT content too large ({info.file_size >> 20} MiB of XML)")
            text = odt_text(z.read(info))
    except ActionError:
        raise
    except (zipfile.BadZipFile, KeyError, ET.ParseError, ValueError, EOFError) as exc:
        detail = "not a ZIP package" if isinstance(exc, zipfile.BadZipFile) else str(exc)
        raise ActionError(f"not a valid ODT file: {detail}") from None
    write_output(ctx, text)
    return None
