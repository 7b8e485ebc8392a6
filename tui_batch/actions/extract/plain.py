"""Text files (.txt, .md, .csv, ...): find the encoding, decode safely, write UTF-8.

The encoding is, in order: the user's ``encoding`` option; a byte-order mark (UTF-8, UTF-16,
UTF-32); a hint the format carries (an HTML ``<meta charset>``); strict UTF-8 when the sample
decodes as such (the common case, and one charset-normalizer can misjudge on short ASCII-like
text); else what charset-normalizer finds most likely. Decoding never fails on a bad byte: it
becomes U+FFFD and the task's output says how many there were. A file too large for memory is
decoded in chunks (the encoding is chosen on the first MiB). Line ends become ``\\n``; nothing
else is changed: a text file's text is the file.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator
from typing import BinaryIO

from ..base import ActionError, TaskContext
from ..output import atomic_write
from .common import output_path

__all__ = ["decode_all", "detect_encoding", "extract_plain"]

_SAMPLE = 1 << 20
_CHUNK = 1 << 20

_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Undecodable bytes are counted per thread (the error handler is process-wide by name).
_counts = threading.local()
_HANDLER = "tui_batch_extract_count"


def _count_and_replace(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _counts.n = getattr(_counts, "n", 0) + (exc.end - exc.start)
    return "\ufffd", exc.end


codecs.register_error(_HANDLER, _count_and_replace)


def _valid_utf8(sample: bytes, complete: bool) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(sample, final=complete)  # a cut character at the sample's end is fine
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes, *, complete: bool, hint: str | None = None) -> str:
    """The encoding to decode a file by, from its first bytes (``complete``: the whole file)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if hint:
        try:
            return codecs.lookup(hint).name
        except LookupError:
            pass  # a misspelt meta charset: detect as if it were not there
    if _valid_utf8(sample, complete):
        return "utf-8"
    from charset_normalizer import from_bytes  # core dependency; imported when needed

    best = from_bytes(sample).best()
    if best is None:
        raise ActionError("cannot tell the text encoding (binary data?); "
                          "give --opt encoding=NAME")
    return str(best.encoding)


def _replaced_note(count: int) -> str | None:
    if not count:
        return None
    return f"{count} undecodable byte{'s' if count != 1 else ''} replaced with U+FFFD"


def decode_all(data: bytes, encoding: str) -> tuple[str, str | None]:
    """Decode a whole document; the text, and a note when bytes had to be replaced."""
    _counts.n = 0
    try:
        text = data.decode(encoding, _HANDLER)
    except LookupError:  # a BOM-less UTF-16/32 name, an odd charset-normalizer answer
        raise ActionError(f"cannot decode as {encoding!r}: unknown encoding") from None
    return text, _replaced_note(_counts.n)


def _decoded(f: BinaryIO, encoding: str) -> Iterator[str]:
    """Chunks of text with universal line ends (a CR at a chunk's end waits for the next)."""
    read = f.read
    decoder = codecs.getincrementaldecoder(encoding)(_HANDLER)
    pending_cr = False
    while True:
        raw = read(_CHUNK)
        text = decoder.decode(raw, final=not raw)
        if pending_cr:
            text = "\r" + text
            pending_cr = False
        if raw and text.endswith("\r"):
            text = text[:-1]
            pending_cr = True
        if text:
            yield text.replace("\r\n", "\n").replace("\r", "\n")
        if not raw:
            return


def extract_plain(ctx: TaskContext, encoding: str | None) -> str | None:
    """Write the file's text as UTF-8; the task's note (replaced bytes), if any."""
    final = output_path(ctx)
    with open(ctx.path, "rb") as f:
        sample = f.read(_SAMPLE)
        enc = encoding or detect_encoding(sample, complete=len(sample) < _SAMPLE)
        if enc == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            enc = "utf-8-sig"  # the mark is not text, whoever named the encoding
        f.seek(0)
        _counts.n = 0
        with atomic_write(final) as out:
            for text in _decoded(f, enc):
                out.write(text.encode("utf-8", "replace"))
    return _replaced_note(_counts.n)
