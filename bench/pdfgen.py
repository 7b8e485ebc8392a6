"""A minimal PDF writer for the extraction benchmark: real, valid documents without a library.

Each document is what a typesetter writes for plain prose: pages of Helvetica text lines
(standard Type 1 font, WinAnsi encoding), content streams compressed with Flate as real PDFs
are, a proper cross-reference table, and some lines set with ``TJ`` kerning arrays (a large
negative offset between words, no space character: what TeX does), so an extractor has to
infer the spaces. Deterministic: document ``i`` is the same bytes on every run.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

_PROSE = (
    "the of and to in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "more will no can who so said what up its about into than them only other new some "
    "could time these two may first then do any like my now over such our man me even most "
    "made after also did many before must through years where much your way well down "
    "should because each just those people how too little state good very make world still "
    "own see men work long get here between both life being under never day same another "
    "know while last might us great old year off come since against go came right used take "
    "three report budget quarterly committee figures approved office final flow"
)
WORDS = _PROSE.split()


def _escape(text: str) -> bytes:
    return text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _line(rng: random.Random, n_words: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n_words)]


def page_stream(rng: random.Random, lines: int) -> tuple[bytes, list[str]]:
    """One page's content stream and the words it shows, line by line."""
    out = [b"BT /F1 10 Tf 12 TL 56 770 Td"]
    shown: list[str] = []
    for i in range(lines):
        words = _line(rng, rng.randint(8, 13))
        shown.append(" ".join(words))
        if i % 4 == 3:  # kerned: words as separate strings, the gap a TJ offset
            parts = b" -300 ".join(b"(" + _escape(w) + b")" for w in words)
            out.append(b"[" + parts + b"] TJ T*")
        else:
            out.append(b"(" + _escape(" ".join(words)) + b") Tj T*")
    out.append(b"ET")
    return b"\n".join(out), shown


def make_pdf(path: Path, seed: int, pages: int = 3, lines: int = 50) -> list[str]:
    """Write one document; returns the text lines it shows (for checking an extractor)."""
    rng = random.Random(seed)
    streams, shown = [], []
    for _ in range(pages):
        stream, text = page_stream(rng, lines)
        streams.append(zlib.compress(stream, 6))
        shown.extend(text)
    n = len(streams)
    # 1 catalog, 2 pages, 3 font, then (page, contents) pairs
    objs: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
        + b"] /Count %d >>" % n,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, data in enumerate(streams):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objs.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data
                    + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return shown


def make_pdf_tree(folder: Path, n: int, pages: int = 3) -> Path:
    """``n`` documents in folders of 100 (made once; a marker file says the set is whole)."""
    marker = folder / f".pdfs-{n}-{pages}"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        d = folder / f"d{i // 100:03d}"
        d.mkdir(exist_ok=True)
        make_pdf(d / f"doc{i:05d}.pdf", seed=i, pages=pages)
    marker.write_text("")
    return folder
