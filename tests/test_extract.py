"""extract-text (issue 12): real documents made here, read back as text.

The PDFs are written by hand (a few objects and a cross-reference table: what every PDF
writer produces for plain text), the encrypted one by pypdf, DOCX/PPTX by python-docx and
python-pptx, the ODT as the ZIP package LibreOffice writes. The readers are called in-process
where the output is all that matters; the CLI runs in a fresh process (the real command) for
the mirrored output tree, the missing extra and a worker that segfaults.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import PYTHON, tui_batch_cmd

from tui_batch.actions import ActionError, make_context, resolve_action
from tui_batch.errors import InputError
from tui_batch.model import ActionSpec, EngineSettings, FileEntry

HERE = Path(__file__).resolve().parent


# -- documents ------------------------------------------------------------------------------


def pdf_bytes(*page_streams: bytes) -> bytes:
    """A valid PDF with one page per content stream (Helvetica as F1)."""
    n = len(page_streams)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
        + b"] /Count %d >>" % n,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, stream in enumerate(page_streams):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


PAGE1 = (b"BT /F1 12 Tf 72 700 Td (Quarterly report) Tj 0 -16 Td "
         b"[(The ) -20 (budget) -600 (was) -600 (approved.)] TJ ET")
PAGE2 = b"BT /F1 12 Tf 72 700 Td (Second page) Tj 90 0 Td (text) Tj ET"


def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Annual review", level=1)
    d.add_paragraph("First paragraph with ").add_run("bold words").bold = True
    table = d.add_table(rows=2, cols=2)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"r{r}c{c}"
    d.add_paragraph("After the table.")
    d.save(str(path))


def make_pptx(path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = "Slide one title"
    slide.placeholders[1].text = "A bullet point"
    lower = slide.shapes.add_textbox(Inches(1), Inches(6), Inches(4), Inches(1))
    lower.text_frame.text = "Bottom box"
    slide2 = prs.slides.add_slide(prs.slide_layouts[5])
    slide2.shapes.title.text = "Slide two"
    prs.save(str(path))


ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content
  xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
  xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.2">
 <office:body><office:text>
  <text:h text:outline-level="1">Minutes</text:h>
  <text:p>Present:<text:s text:c="2"/>Ann,<text:tab/>Bob<text:note><text:note-body>
   <text:p>a footnote</text:p></text:note-body></text:note></text:p>
  <text:list><text:list-item><text:p>item <text:span>one</text:span></text:p></text:list-item>
   <text:list-item><text:p>item two</text:p></text:list-item></text:list>
  <table:table><table:table-row><table:table-cell><text:p>a1</text:p></table:table-cell>
   <table:table-cell><text:p>b1</text:p></table:table-cell></table:table-row></table:table>
  <text:p>Caf\u00e9 closes<text:line-break/>at six.</text:p>
 </office:text></office:body></office:document-content>"""


def make_odt(path: Path, content: str = ODT_CONTENT, manifest_extra: str = "") -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml",
                   '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
                   'manifest:1.0"><manifest:file-entry manifest:full-path="content.xml">'
                   f"{manifest_extra}</manifest:file-entry></manifest:manifest>")


def extract(path: Path, out: Path, **options: str) -> tuple[str, str | None]:
    """Run the action in this process the way a worker does: (written text, task output)."""
    act = resolve_action(ActionSpec(name="extract-text", options=options))
    act.check(ActionSpec(name="extract-text", options=options),
              EngineSettings(out_dir=str(out)))
    st = path.stat()
    entry = FileEntry(path=str(path), root=str(path.parent), rel=path.name, size=st.st_size,
                      mtime_ns=st.st_mtime_ns)
    ctx = make_context(act, entry, out_dir=str(out), options=options)
    note = act.run(ctx)  # type: ignore[attr-defined]
    assert ctx.out_path is not None
    return Path(ctx.out_path).read_text("utf-8"), note


def failure(path: Path, out: Path, **options: str) -> str:
    with pytest.raises(ActionError) as info:
        extract(path, out, **options)
    message = str(info.value)
    assert "\n" not in message
    assert not list(out.rglob("*.txt")), "a failed task left an output"
    return message


# -- the declaration ------------------------------------------------------------------------


def test_declared_as_a_cpu_action_writing_txt_under_out() -> None:
    act = resolve_action(ActionSpec(name="extract-text"))
    assert act.kind.value == "process" and act.needs_out and act.out_ext == ".txt"
    assert act.out_path_for("/o", "/r", "a/report.pdf", False) == "/o/a/report.txt"
    with pytest.raises(InputError, match="--out"):
        act.check(ActionSpec(name="extract-text"), EngineSettings())


@pytest.mark.parametrize(("options", "message"), [
    ({"encoding": "klingon-8"}, "unknown text encoding"),
    ({"encoding": "hex"}, "not a text encoding"),
    ({"pages": "3-1"}, "pages"),
    ({"pages": "a,b"}, "pages"),
    ({"pages": "0"}, "counted from 1"),
    ({"colour": "red"}, "unknown option"),
])
def test_bad_options_are_refused_before_the_run(options: dict[str, str], message: str) -> None:
    act = resolve_action(ActionSpec(name="extract-text", options=options))
    with pytest.raises(InputError, match=message):
        act.check(ActionSpec(name="extract-text", options=options),
                  EngineSettings(out_dir="/tmp/x"))


# -- formats --------------------------------------------------------------------------------


def test_pdf_pages_words_and_spaces(tmp_path: Path) -> None:
    src = tmp_path / "report.pdf"
    src.write_bytes(pdf_bytes(PAGE1, PAGE2))
    text, note = extract(src, tmp_path / "out")
    assert text == "Quarterly report\nThe budget was approved.\n\fSecond page text\n"
    assert note is None
    only2, _ = extract(src, tmp_path / "out2", pages="2-")
    assert only2 == "Second page text\n"


def test_pdf_without_text_says_so(tmp_path: Path) -> None:
    src = tmp_path / "scan.pdf"
    src.write_bytes(pdf_bytes(b"0 0 m 100 100 l S"))
    text, note = extract(src, tmp_path / "out")
    assert text == "" and note is not None and "no text" in note


def test_encrypted_pdf_fails_its_task(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_bytes(PAGE1)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    src = tmp_path / "locked.pdf"
    with open(src, "wb") as f:
        writer.write(f)
    assert failure(src, tmp_path / "out").startswith("encrypted PDF: ")


def test_owner_password_only_pdf_is_read(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_bytes(PAGE2)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    src = tmp_path / "restricted.pdf"
    with open(src, "wb") as f:
        writer.write(f)
    assert extract(src, tmp_path / "out")[0] == "Second page text\n"


@pytest.mark.parametrize("data", [b"%PDF-1.4\nthis is not a PDF body\n", pdf_bytes(PAGE1)[:150]])
def test_corrupt_pdf_fails_its_task(tmp_path: Path, data: bytes) -> None:
    src = tmp_path / "broken.pdf"
    src.write_bytes(data)
    assert failure(src, tmp_path / "out").startswith("not a valid PDF: ")


@pytest.mark.parametrize("name", ["empty.pdf", "empty.txt", "empty.docx"])
def test_empty_file_fails_its_task(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    src.write_bytes(b"")
    assert failure(src, tmp_path / "out").startswith("empty file")


def test_unsupported_extension_names_the_supported_ones(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpeg"
    src.write_bytes(b"\xff\xd8\xff")
    message = failure(src, tmp_path / "out")
    assert message.startswith("unsupported file type .jpeg")
    assert all(ext in message for ext in (".pdf", ".docx", ".pptx", ".odt", ".html", ".txt"))


def test_docx_body_in_order_with_table(tmp_path: Path) -> None:
    pytest.importorskip("docx")
    src = tmp_path / "review.docx"
    make_docx(src)
    text, _ = extract(src, tmp_path / "out")
    assert text == ("Annual review\nFirst paragraph with bold words\n\nr0c0\tr0c1\nr1c0\tr1c1\n\n"
                    "After the table.\n")


def test_pptx_slides_in_reading_order(tmp_path: Path) -> None:
    pytest.importorskip("pptx")
    src = tmp_path / "deck.pptx"
    make_pptx(src)
    text, _ = extract(src, tmp_path / "out")
    assert text == "Slide one title\n\nA bullet point\n\nBottom box\n\fSlide two\n"
    assert extract(src, tmp_path / "out2", pages="2")[0] == "Slide two\n"


@pytest.mark.parametrize("ext", [".docx", ".pptx"])
def test_corrupt_or_encrypted_office_files(tmp_path: Path, ext: str) -> None:
    pytest.importorskip("docx")
    pytest.importorskip("pptx")
    bad = tmp_path / f"bad{ext}"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("hello.txt", "not an office package")
    assert failure(bad, tmp_path / "out").startswith(f"not a valid {ext[1:].upper()} file: ")
    ole = tmp_path / f"locked{ext}"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    assert failure(ole, tmp_path / "out").startswith("encrypted or legacy Office file")


def test_odt_text_lists_tables_spaces(tmp_path: Path) -> None:
    src = tmp_path / "minutes.odt"
    make_odt(src)
    text, _ = extract(src, tmp_path / "out")
    assert text == ("Minutes\nPresent:  Ann,\tBob\nitem one\nitem two\n\na1\tb1\n\n"
                    "Caf\u00e9 closes\nat six.\n")


def test_odt_encrypted_and_corrupt(tmp_path: Path) -> None:
    locked = tmp_path / "locked.odt"
    make_odt(locked, manifest_extra="<manifest:encryption-data/>")
    assert failure(locked, tmp_path / "out").startswith("encrypted ODT")
    broken = tmp_path / "broken.odt"
    make_odt(broken, content="<office:document-content><unclosed")
    assert failure(broken, tmp_path / "out").startswith("not a valid ODT file: ")
    notzip = tmp_path / "plain.odt"
    notzip.write_text("hello")
    assert failure(notzip, tmp_path / "out") == "not a valid ODT file: not a ZIP package"


def test_html_visible_text_only(tmp_path: Path) -> None:
    src = tmp_path / "page.html"
    src.write_bytes(
        b"<!doctype html><html><head><meta charset='windows-1252'><title>Title</title>"
        b"<style>body { color: red }</style><script>var s = '<p>hidden</p>';</script></head>"
        b"<body><h1>Caf\xe9  menu</h1><p>Soup &amp; bread,\n   today.<br>Two lines</p>"
        b"<script>document.write('no')</script><div hidden>secret</div>"
        b"<ul><li>tea</li><li>coffee</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
        b"<pre>  keep\n    this</pre><noscript>enable scripts</noscript></body></html>")
    text, _ = extract(src, tmp_path / "out")
    assert text == ("Caf\u00e9 menu\n\nSoup & bread, today.\nTwo lines\n\ntea\ncoffee\n\n"
                    "a\tb\n\n  keep\n    this\n")


LATIN1 = ("Le caf\u00e9 de la gare est ferm\u00e9 le dimanche. Na\u00efve fa\u00e7ade, "
          "cr\u00e8me br\u00fbl\u00e9e et g\u00e2teau \u00e0 la fran\u00e7aise. ") * 3


def test_latin1_text_is_detected_and_written_as_utf8(tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_bytes((LATIN1 + "\r\nLast line\r\n").encode("latin-1"))
    text, note = extract(src, tmp_path / "out")
    assert text == LATIN1 + "\nLast line\n" and note is None


def test_utf8_bom_and_utf16_and_override(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfname,price\n\xc3\xa9clair,3\n")
    assert extract(bom, tmp_path / "o1")[0] == "name,price\n\u00e9clair,3\n"
    wide = tmp_path / "wide.md"
    wide.write_bytes("# T\u00eftle\n".encode("utf-16"))
    assert extract(wide, tmp_path / "o2")[0] == "# T\u00eftle\n"
    forced = tmp_path / "forced.txt"
    forced.write_bytes("\u00e9t\u00e9".encode("cp1252"))
    assert extract(forced, tmp_path / "o3", encoding="cp1252")[0] == "\u00e9t\u00e9"


def test_undecodable_bytes_are_replaced_and_counted(tmp_path: Path) -> None:
    src = tmp_path / "mixed.txt"
    src.write_bytes(b"caf\xc3\xa9 ok, then \xff\xfe bad")
    text, note = extract(src, tmp_path / "out", encoding="utf-8")
    assert text == "caf\u00e9 ok, then \ufffd\ufffd bad"
    assert note == "2 undecodable bytes replaced with U+FFFD"


# -- the real command ------------------------------------------------------------------------


def _run(tmp_path: Path, *args: str, pre: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TUI_BATCH_DB=str(tmp_path / "cli.db"),
               PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    if pre:  # run the CLI's main in a fresh interpreter after some set-up code
        cmd = [PYTHON, "-c", f"{pre}\nimport sys\nfrom tui_batch.cli import main\n"
               f"sys.argv = ['tui-batch', *{list(args)!r}]\nmain()"]
    else:
        cmd = [*tui_batch_cmd(), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def _task_events(stdout: str) -> dict[str, dict[str, object]]:
    found = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "task" and event.get("state") in ("done", "failed"):
                found[os.path.basename(str(event["path"]))] = event
    return found


def test_cli_mirrors_text_under_out_and_fails_only_the_bad_file(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "report.pdf").write_bytes(pdf_bytes(PAGE1))
    (root / "page.htm").write_text("<p>Hello <script>x()</script>web</p>")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\ngarbage")
    out = tmp_path / "out"
    proc = _run(tmp_path, "run", str(root), "--action", "extract-text", "--out", str(out),
                "-j", "2", "--json")
    assert proc.returncode == 1, proc.stderr
    assert (out / "sub" / "report.txt").read_text() == ("Quarterly report\n"
                                                        "The budget was approved.\n")
    assert (out / "page.txt").read_text() == "Hello web\n"
    assert not (out / "broken.txt").exists()
    events = _task_events(proc.stdout)
    assert events["broken.pdf"]["state"] == "failed"
    assert str(events["broken.pdf"]["error"]).startswith("not a valid PDF: ")
    assert {k for k, e in events.items() if e["state"] == "done"} == {"report.pdf", "page.htm"}
    assert "Traceback" not in proc.stderr


def test_cli_without_the_docs_extra_says_which_to_install(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.pdf").write_bytes(pdf_bytes(PAGE1))
    (root / "b.txt").write_text("plain text works\n")
    out = tmp_path / "out"
    proc = _run(tmp_path, "run", str(root), "--action", "extract-text", "--out", str(out),
                "-j", "1", "--json", pre="import sys; sys.modules['pypdfium2'] = None")
    assert proc.returncode == 1, proc.stderr
    events = _task_events(proc.stdout)
    assert "install the docs extra: pip install 'tui-batch[docs]'" in str(events["a.pdf"]["error"])
    assert events["b.txt"]["state"] == "done"
    assert (out / "b.txt").read_text() == "plain text works\n"


def test_the_description_says_when_the_extra_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui_batch.actions.extract import description

    assert "tui-batch[docs]" not in description()
    monkeypatch.setitem(sys.modules, "docx", None)  # python-docx "not installed"
    assert "tui-batch[docs]" in description()


# -- a worker that dies ----------------------------------------------------------------------


def _crash_tree(root: Path) -> list[str]:
    # a_hold is in flight, submitted before m_crash, when m_crash's worker dies
    names = ["a_hold.txt", *(f"f{i:02d}.txt" for i in range(10)), "m_crash.txt", "z.txt"]
    root.mkdir()
    for name in names:
        (root / name).write_text(name)
    return names


def test_a_segfaulting_worker_fails_only_its_task(tmp_path: Path) -> None:
    names = _crash_tree(tmp_path / "in")
    proc = _run(tmp_path, "run", str(tmp_path / "in"), "--action",
                "crash_actions:segfault_on_crash", "-j", "2", "--json")
    assert proc.returncode == 1, proc.stderr
    events = _task_events(proc.stdout)
    failed = {k: e for k, e in events.items() if e["state"] == "failed"}
    assert list(failed) == ["m_crash.txt"], failed
    assert failed["m_crash.txt"]["error"] == "worker process died (SIGSEGV)"
    assert len(events) == len(names)  # every other file done: the pool was rebuilt
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("action", "death"), [
    ("exit_on_crash", "worker process died (exit status 3)"),
    ("term_on_crash", "worker process died (SIGTERM)"),
])
def test_a_worker_that_exits_fails_only_its_task(tmp_path: Path, action: str, death: str) -> None:
    from tui_batch.engine import Engine, Task

    root = tmp_path / "in"
    names = _crash_tree(root)
    act = resolve_action(ActionSpec(name=f"crash_actions:{action}"))
    engine = Engine(act, EngineSettings(workers=2))
    tasks = []
    for i, name in enumerate(names, 1):
        st = (root / name).stat()
        tasks.append(Task(id=i, path=str(root / name), root=str(root), rel=name,
                          size=st.st_size, mtime_ns=st.st_mtime_ns))
    engine.submit(tasks)
    asyncio.run(engine.run())
    states = {t.rel: (t.state.value, t.error) for t in engine.tasks.values()}
    assert states.pop("m_crash.txt") == ("failed", death)
    assert set(states.values()) == {("done", None)}, states
