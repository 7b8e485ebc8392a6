"""PDF: the text layer of each page, read with PDFium (pypdfium2, from the docs extra).

Why PDFium and not pypdf: on the benchmark's documents it is 3-4x faster, and its text is at
least as good (same word order and spacing on kerned and positioned text, and it spells out
the "fi"/"fl" ligatures that pypdf passes through); see the README ("Actions"). It is native
code, so a document that crashes it takes the worker process down: the process pool names
that task and carries on (``engine/executors/crashes.py``).

Pages are separated by a form feed, as ``pdftotext`` does. A document that needs a password
to open fails its task as "encrypted PDF"; one with only an owner password (printing or
copying restrictions) opens and is read, as every viewer does. A document without any text
(a scan) writes an empty file and says so in the task's output.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..base import ActionError, TaskContext
from .common import PageRange, need, tidy, write_output

__all__ = ["extract_pdf"]

_IN_MEMORY = 256 << 20  # larger documents are read through a file object, not loaded whole
_ERR_PASSWORD = 4
_ERR_SECURITY = 5

# PDFium is not thread-safe. A worker process runs one task at a time, so this is free there;
# it makes the action safe (if serial) in threads too.
_lock = threading.Lock()


def _reason(exc: Exception) -> str:
    """``Data format error`` out of pypdfium2's ``Failed to load document (PDFium: ...).``"""
    text = str(exc)
    if "PDFium:" in text:
        text = text.split("PDFium:", 1)[1].strip(" ).")
    return text[:1].lower() + text[1:] if text else type(exc).__name__


def _open(pdfium: Any, ctx: TaskContext) -> tuple[Any, Any]:
    """The document (and the file object it reads, if any)."""
    size = os.path.getsize(ctx.path)
    source: Any
    handle: Any = None
    if size <= _IN_MEMORY:
        with open(ctx.path, "rb") as f:
            source = f.read()
    else:
        handle = source = open(ctx.path, "rb")  # noqa: SIM115 - closed after the document
    try:
        doc = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        if handle is not None:
            handle.close()
        code = getattr(exc, "err_code", None)
        if code == _ERR_PASSWORD:
            raise ActionError("encrypted PDF: a password is needed to open it") from None
        if code == _ERR_SECURITY:
            raise ActionError("encrypted PDF: its security handler is not supported") from None
        raise ActionError(f"not a valid PDF: {_reason(exc)}") from None
    return doc, handle


def _page_text(pdfium: Any, doc: Any, index: int) -> str:
    try:
        page = doc[index]
    except pdfium.PdfiumError as exc:
        raise ActionError(f"not a valid PDF: page {index + 1}: {_reason(exc)}") from None
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def extract_pdf(ctx: TaskContext, pages: PageRange | None) -> str | None:
    """Write the text of the (chosen) pages; a note for a document without text."""
    pdfium = need("pypdfium2", "reading PDF files")
    with _lock:
        doc, handle = _open(pdfium, ctx)
        try:
            count = len(doc)
            chosen = pages.indexes(count) if pages is not None else list(range(count))
            if pages is not None and not chosen:
                raise ActionError(f"pages: the document has {count} page"
                                  f"{'s' if count != 1 else ''}; none of them chosen")
            texts = [tidy(_page_text(pdfium, doc, i)) for i in chosen]
        finally:
            doc.close()
            if handle is not None:
                handle.close()
    write_output(ctx, "\f".join(texts))
    if chosen and not any(texts):
        n = len(chosen)
        return f"no text in {n} page{'s' if n != 1 else ''} (a scan? the PDF has no text layer)"
    return None
