"""The ``extract-text`` action: a document's text, written as ``.txt`` mirrored under ``--out``.

One module per format family (:mod:`.plain`, :mod:`.html`, :mod:`.pdf`, :mod:`.office`,
:mod:`.odt`); :data:`FORMATS` maps an extension to its reader. The action is CPU-bound (parsing),
so it runs in the process pool; each reader imports its parser only when a file of its kind
comes, so text and HTML files work without the ``docs`` extra and a PDF without it fails its
task with the command that installs it. Every failure the user can act on is one line: an
unsupported extension (naming the supported ones), an empty file, an encrypted or corrupt
document.

Before the run, the options are checked (``encoding`` must be a text codec, ``pages`` a page
list). A missing extra does not refuse the job, since a tree of text files needs none; the
action's description in ``tui-batch actions`` and the form says which parts are missing.
"""

from __future__ import annotations

import os

from ..base import ActionError, TaskContext
from ..python import action
from .common import DOCS_HINT, check_encoding, docs_missing, page_range

__all__ = ["EXTRACT_OPTIONS", "FORMATS", "check_extract_options", "description", "extract_text"]

FORMATS: dict[str, str] = {
    **dict.fromkeys((".txt", ".text", ".md", ".markdown", ".rst", ".csv", ".tsv", ".log"),
                    "text"),
    **dict.fromkeys((".html", ".htm", ".xhtml"), "HTML"),
    ".pdf": "PDF",
    ".docx": "DOCX",
    ".pptx": "PPTX",
    ".odt": "ODT",
}
"""Extension (lower case) -> the format's name (:func:`_read` picks its reader)."""


def _encoding(options: dict[str, str]) -> str | None:
    raw = options.get("encoding")
    return check_encoding(raw) if raw is not None and raw.strip() else None


def _read(ctx: TaskContext, kind: str) -> str | None:
    """Run the reader of ``kind``. Readers are imported here, when a file of their kind comes
    (html.parser, ElementTree: every CLI start would pay for them otherwise)."""
    options = ctx.options
    if kind == "text":
        from .plain import extract_plain

        return extract_plain(ctx, _encoding(options))
    if kind == "HTML":
        from .html import extract_html

        return extract_html(ctx, _encoding(options))
    if kind == "PDF":
        from .pdf import extract_pdf

        return extract_pdf(ctx, page_range(options))
    if kind == "ODT":
        from .odt import extract_odt

        return extract_odt(ctx)
    from .office import extract_docx, extract_pptx

    if kind == "DOCX":
        return extract_docx(ctx)
    return extract_pptx(ctx, page_range(options))


EXTRACT_OPTIONS = {
    "encoding": "text and HTML files: decode with this encoding (e.g. cp1252) instead of "
                "detecting it",
    "pages": "PDF pages / PPTX slides to read, e.g. 1-3,7,10- (default: all)",
}


def check_extract_options(options: dict[str, str]) -> None:
    """Refuse bad option values before anything runs (``InputError('--opt', ...)``)."""
    _encoding(options)
    page_range(options)


def supported() -> str:
    return ", ".join(sorted(FORMATS))


def description() -> str:
    """The one-line description, saying which document formats need the missing extra."""
    text = "Extract the text of documents (PDF, DOCX, PPTX, ODT, HTML, text) into OUT/NAME.txt"
    missing = docs_missing()
    if missing:
        text += f" (PDF/DOCX/PPTX: {DOCS_HINT})"
    return text


@action(kind="cpu", needs_out=True, out_ext=".txt", options=EXTRACT_OPTIONS,
        validate=check_extract_options)
def extract_text(ctx: TaskContext) -> str | None:
    """Extract a document's text into OUT/NAME.txt (UTF-8)."""
    ext = os.path.splitext(ctx.path)[1].lower()
    kind = FORMATS.get(ext)
    if kind is None:
        shown = ext if ext else "(no extension)"
        raise ActionError(f"unsupported file type {shown}; extract-text reads {supported()}")
    if os.path.getsize(ctx.path) == 0:
        raise ActionError(f"empty file: a 0-byte {kind} file has no text")
    return _read(ctx, kind)
