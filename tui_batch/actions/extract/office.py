"""Office Open XML documents: .docx (python-docx) and .pptx (python-pptx), from the docs extra.

DOCX: the body in document order, paragraphs as lines and tables as tab-separated rows (a
merged cell once). PPTX: each slide's text in reading order (top to bottom, then left to
right: the file keeps shapes in drawing order), groups and tables included, slides separated
by a form feed like PDF pages; speaker notes are not slide text and are left out.

Both formats are ZIP packages. A password-protected Office file is not: it is an OLE compound
file holding the encrypted package (as is a legacy .doc/.ppt renamed), which is told apart
before any parser runs, so the user reads "encrypted or legacy Office file" rather than a ZIP
error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..base import ActionError, TaskContext
from .common import PageRange, need, tidy, write_output

__all__ = ["extract_docx", "extract_pptx", "sniff_package"]

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"


def sniff_package(path: str, kind: str) -> None:
    """Refuse, with the reason, a file that is not a ZIP package before a parser sees it."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_OLE):
        raise ActionError(f"encrypted or legacy Office file: not a {kind} package "
                          "(a password-protected file, or an old binary format renamed)")
    if not head.startswith(_ZIP):
        raise ActionError(f"not a valid {kind} file: not a ZIP package")


def _load(ctx: TaskContext, kind: str, loader: Any) -> Any:
    sniff_package(ctx.path, kind)
    try:
        with open(ctx.path, "rb") as f:
            return loader(f)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # zipfile, lxml and the libraries' own errors: a broken file
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ActionError(f"not a valid {kind} file: {detail}") from None


# -- docx ----------------------------------------------------------------------------------


def _row_text(cells: Iterable[Any]) -> str:
    seen: list[Any] = []
    texts: list[str] = []
    for cell in cells:
        tc = getattr(cell, "_tc", cell)
        if seen and seen[-1] is tc:  # a merged cell spans several grid columns: once
            continue
        seen.append(tc)
        texts.append(" ".join(cell.text.split()))
    return "\t".join(texts)


def _docx_blocks(document: Any) -> Iterator[str]:
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a table
            yield ""
            for row in block.rows:
                yield _row_text(row.cells)
            yield ""
        else:
            yield block.text


def extract_docx(ctx: TaskContext) -> str | None:
    """Write the document's body text."""
    docx = need("docx", "reading DOCX files")
    document = _load(ctx, "DOCX", docx.Document)
    try:
        text = "\n".join(_docx_blocks(document))
    except Exception as exc:  # a package whose parts do not say what they should
        raise ActionError(f"not a valid DOCX file: {exc}") from None
    write_output(ctx, tidy(text))
    return None


# -- pptx ----------------------------------------------------------------------------------


def _reading_order(shapes: Iterable[Any]) -> list[Any]:
    def key(shape: Any) -> tuple[int, int]:
        return (int(shape.top or 0), int(shape.left or 0))

    return sorted(shapes, key=key)


def _shape_lines(shape: Any) -> Iterator[str]:
    if getattr(shape, "shapes", None) is not None and not getattr(shape, "has_text_frame", False):
        for inner in _reading_order(shape.shapes):  # a group
            yield from _shape_lines(inner)
        return
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            yield _row_text(row.cells)
        yield ""
        return
    if getattr(shape, "has_text_frame", False):
        for paragraph in shape.text_frame.paragraphs:
            yield paragraph.text.replace("\v", "\n")  # a line break inside a paragraph
        yield ""


def extract_pptx(ctx: TaskContext, slides: PageRange | None) -> str | None:
    """Write the text of the (chosen) slides."""
    pptx = need("pptx", "reading PPTX files")
    presentation = _load(ctx, "PPTX", pptx.Presentation)
    try:
        all_slides = list(presentation.slides)
        chosen = slides.indexes(len(all_slides)) if slides else range(len(all_slides))
        if slides is not None and not chosen:
            n = len(all_slides)
            raise ActionError(f"pages: the presentation has {n} slide{'s' if n != 1 else ''}; "
                              "none of them chosen")
        texts = []
        for i in chosen:
            lines = [line for shape in _reading_order(all_slides[i].shapes)
                     for line in _shape_lines(shape)]
            texts.append(tidy("\n".join(lines)))
    except ActionError:
        raise
    except Exception as exc:
        raise ActionError(f"not a valid PPTX file: {exc}") from None
    write_output(ctx, "\f".join(texts))
    return None
