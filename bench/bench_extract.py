"""extract-text on 500 generated PDFs with 2 workers: process pool vs thread pool vs pdftotext.

The documents are made by the benchmark itself (``pdfgen.py``: 3 pages of prose each, Flate
compressed, some lines kerned with ``TJ`` so the extractor must infer the spaces). Timed as a
user runs it, the whole command each time, in paired rounds (every tool once per round, the
median reported):

* ``process``: ``tui-batch run DIR --action extract-text --out OUT -j 2`` (the process pool:
  what the action declares);
* ``threads``: the same action declared ``kind="io"`` (``bench_extract:THREADS``), so it runs on
  the thread pool: PDFium is not thread-safe, so the reader holds a lock, and the GIL would
  serialise a pure-Python parser the same way; this is what the process pool buys;
* ``pdftotext``: poppler's ``find DIR -name '*.pdf' | xargs -P2 -n1 pdftotext -enc UTF-8``, the
  cheapest way to call it (it writes NAME.txt beside NAME.pdf, no shell per file), installed
  with apt by this script when missing.

Every output is checked: the words of each tool's text must be the words the generator wrote.
Then the PDF libraries are timed in one process on 100 of the documents (pypdfium2, and pypdf
when installed), the figures behind the choice in the README. Prints the ratios (target:
process >= 1.7x threads on 2 cores).

    python bench/bench_extract.py [--files 500] [--runs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tui_batch.actions import PythonAction
from tui_batch.actions.extract import extract_text

THREADS = PythonAction("extract-text", extract_text, "io")
"""extract-text on the thread pool (only the kind differs), for the comparison."""


def _words(path: Path) -> list[str]:
    return path.read_text("utf-8", "replace").split()


def _check(name: str, outputs: dict[Path, Path], truth: dict[Path, list[str]]) -> None:
    """Every document has its text, word for word."""
    missing = [src for src, out in outputs.items() if not out.exists()]
    assert not missing, f"{name}: {len(missing)} outputs missing, e.g. {missing[0]}"
    wrong = [src for src, out in outputs.items() if _words(out) != truth[src]]
    assert not wrong, f"{name}: the text of {len(wrong)} documents differs, e.g. {wrong[0]}"


def _libraries(pdfs: list[Path], truth: dict[Path, list[str]]) -> None:
    """One process, one thread: ms per document, and the words right, for each library."""
    import pypdfium2 as pdfium

    def with_pdfium(p: Path) -> str:
        doc = pdfium.PdfDocument(p.read_bytes())
        try:
            return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        finally:
            doc.close()

    readers = {"pypdfium2": with_pdfium}
    try:
        import pypdf

        readers["pypdf"] = lambda p: "\n".join(
            page.extract_text() or "" for page in pypdf.PdfReader(p).pages)
    except ImportError:
        print("(pypdf is not installed: pip install pypdf to compare it)")
    sample = pdfs[:100]
    for name, read in readers.items():
        read(sample[0])  # imports, caches
        t0 = time.perf_counter()
        texts = [read(p) for p in sample]
        dt = time.perf_counter() - t0
        right = sum(t.split() == truth[p] for p, t in zip(sample, texts, strict=True))
        print(f"library {name:10} {1000 * dt / len(sample):6.1f} ms/document, "
              f"words right in {right}/{len(sample)}")


def _burn(_: int) -> int:
    total = 0
    for i in range(2_000_000):
        total += i
    return total


def _ceiling(w: int) -> float:
    """How much more CPU work ``w`` processes do than one, on this machine, right now (a
    machine shared with other work gives less than ``w``: the ratios below are bound by it)."""
    import concurrent.futures as cf

    spans = {}
    for n in (1, w):
        with cf.ProcessPoolExecutor(n) as ex:
            list(ex.map(_burn, range(n)))  # workers up
            t0 = time.perf_counter()
            list(ex.map(_burn, range(4 * w)))
            spans[n] = time.perf_counter() - t0
    return spans[1] / spans[w]


def main() -> None:
    from common import ensure_tool, sh, tui_batch_cmd
    from pdfgen import make_pdf, make_pdf_tree

    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    n, w = args.files, args.workers
    try:
        import pypdfium2  # noqa: F401
    except ImportError:
        raise SystemExit("extract-text needs the docs extra: pip install -e '.[docs]'") from None
    tmp = Path(tempfile.gettempdir()) / "tui-batch-bench"
    tree = make_pdf_tree(tmp / f"extract-pdfs-{n}", n)
    pdfs = sorted(tree.rglob("*.pdf"))
    scratch = tmp / "extract-truth.pdf"  # the generator says what each document shows
    truth = {p: " ".join(make_pdf(scratch, seed=int(p.stem[3:]))).split() for p in pdfs}
    scratch.unlink()
    out = tmp / "extract-out"
    db = tmp / "extract.db"
    here = Path(__file__).resolve().parent
    env = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin",
               PYTHONPATH=os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")])))
    tb = " ".join(tui_batch_cmd())
    run = (f"{tb} run {tree} --ext pdf --out {out} -j {w} --headless --db {db} "
           "> /dev/null 2>&1")
    tools = {
        "process": f"{run} --action extract-text",
        "threads": f"{run} --action bench_extract:THREADS",
    }
    copy = tmp / "extract-pdftotext"
    have_poppler = ensure_tool("pdftotext", "poppler-utils")
    if have_poppler:
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(tree, copy)
        tools["pdftotext"] = (f"find {copy} -name '*.pdf' -print0 | "
                              f"xargs -0 -P{w} -n1 pdftotext -enc UTF-8")
    else:
        print("(pdftotext could not be installed: apt-get install poppler-utils)")

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)
        for suffix in ("", "-wal", "-shm", ".logs", ".locks", ".pending"):
            p = Path(f"{db}{suffix}")
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        if copy.exists():
            for t in copy.rglob("*.txt"):
                t.unlink()

    def outputs(name: str) -> dict[Path, Path]:
        if name == "pdftotext":
            return {p: copy / p.relative_to(tree).with_suffix(".txt") for p in pdfs}
        return {p: out / p.relative_to(tree).with_suffix(".txt") for p in pdfs}

    print(f"-- extract-text, {n} PDFs (3 pages each), {w} workers, {os.cpu_count()} CPUs")
    print(f"ceiling: {w} processes do {_ceiling(w):.2f}x the CPU work of one right now")
    times: dict[str, list[float]] = {name: [] for name in tools}
    for name, cmd in tools.items():  # warm-up, and the check of every output
        clean()
        sh(cmd, env=env)
        _check(name, outputs(name), truth)
    print(f"output: every tool wrote the words of all {n} documents")
    for _ in range(args.runs):
        for name, cmd in tools.items():
            clean()
            t0 = time.perf_counter()
            sh(cmd, env=env)
            times[name].append(time.perf_counter() - t0)
    clean()
    print(f"ceiling after: {_ceiling(w):.2f}x")
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"{name:10} {med[name]:7.2f} s  {1000 * med[name] / n:6.2f} ms/file  "
              f"{n / med[name]:6.1f} files/s   (runs: {', '.join(f'{t:.2f}' for t in ts)})")
    print(f"ratio process/threads throughput: {med['threads'] / med['process']:.2f}x "
          "(target >= 1.7)")
    if "pdftotext" in med:
        print(f"ratio tui-batch/pdftotext throughput: {med['pdftotext'] / med['process']:.2f}x")
    _libraries(pdfs, truth)


if __name__ == "__main__":
    main()
