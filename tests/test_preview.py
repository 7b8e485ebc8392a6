"""The preview: rows, totals, duplicates, mirrored output paths and output collisions."""

from __future__ import annotations

import os
from pathlib import Path

from tui_batch.model import FileEntry, FilterSpec
from tui_batch.select import (
    DedupeResult,
    build_preview,
    default_mirror_path,
    find_duplicates,
    mark_collisions,
    scan,
)


def write(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def entries_of(*roots: Path) -> list[FileEntry]:
    return list(scan(FilterSpec(roots=[str(r) for r in roots])))


def test_rows_totals_and_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a.txt", b"same")
    write(root / "b.txt", b"other!")
    write(root / "sub" / "c.txt", b"same")
    p = build_preview(entries_of(root))
    assert [r.entry.rel for r in p.rows] == ["a.txt", "b.txt", "sub/c.txt"]
    assert p.count == 3
    assert p.total_bytes == 14
    assert p.duplicates == 1
    assert p.to_process == 2
    assert p.bytes_to_process == 10
    assert p.rows[2].duplicate_of == str(root / "a.txt")
    assert p.rows[0].duplicate_of is None
    assert p.collisions == 0
    assert all(r.out_path is None for r in p.rows)  # no --out, no outputs
    assert p.dedupe is not None and p.dedupe.stats.duplicates == 1


def test_no_dedupe(tmp_path: Path) -> None:
    write(tmp_path / "a", b"same")
    write(tmp_path / "b", b"same")
    p = build_preview(entries_of(tmp_path), dedupe=False)
    assert p.duplicates == 0
    assert p.dedupe is None


def test_reuses_a_given_dedupe_result(tmp_path: Path) -> None:
    write(tmp_path / "a", b"same")
    write(tmp_path / "b", b"same")
    ents = entries_of(tmp_path)
    given = DedupeResult(duplicate_of={ents[0].path: ents[1].path})  # deliberately "wrong"
    p = build_preview(ents, dedupe_result=given)
    assert p.rows[0].duplicate_of == ents[1].path
    assert p.dedupe is given


def test_mirror_single_root(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a.txt")
    write(root / "d" / "b.txt", b"yy")
    out = tmp_path / "out"
    p = build_preview(entries_of(root), out_dir=str(out), roots=[str(root)])
    assert [r.out_path for r in p.rows] == [str(out / "a.txt"), str(out / "d" / "b.txt")]
    assert p.collisions == 0
    assert p.warnings == []


def test_mirror_multi_root_uses_root_names(tmp_path: Path) -> None:
    r1, r2 = tmp_path / "logs", tmp_path / "data"
    write(r1 / "x.txt", b"1")
    write(r2 / "x.txt", b"22")  # same rel in both roots: no collision thanks to the root name
    out = tmp_path / "out"
    p = build_preview(entries_of(r1, r2), out_dir=str(out), roots=[str(r1), str(r2)])
    assert [r.out_path for r in p.rows] == [
        str(out / "logs" / "x.txt"),
        str(out / "data" / "x.txt"),
    ]
    assert p.collisions == 0
    # roots inferred from the entries when not given
    p2 = build_preview(entries_of(r1, r2), out_dir=str(out))
    assert [r.out_path for r in p2.rows] == [r.out_path for r in p.rows]
    assert default_mirror_path("o", "/a/logs/", "x", True) == os.path.join("o", "logs", "x")


def test_two_inputs_one_output(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a" / "same.txt", b"1")
    write(root / "b" / "same.txt", b"22")
    write(root / "c" / "other.txt", b"333")
    out = str(tmp_path / "out")
    p = build_preview(
        entries_of(root), out_path_for=lambda e: os.path.join(out, os.path.basename(e.path))
    )
    flagged = {r.entry.rel: r.collision for r in p.rows}
    assert flagged["c/other.txt"] is None
    assert "same output as" in (flagged["a/same.txt"] or "")
    assert str(root / "b" / "same.txt") in (flagged["a/same.txt"] or "")
    assert p.collisions == 2


def test_duplicates_do_not_collide(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a" / "same.txt", b"dup")
    write(root / "b" / "same.txt", b"dup")  # a duplicate: skipped, writes nothing
    out = str(tmp_path / "out")
    p = build_preview(
        entries_of(root), out_path_for=lambda e: os.path.join(out, os.path.basename(e.path))
    )
    assert p.duplicates == 1
    assert p.collisions == 0


def test_output_onto_its_own_input(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a.txt")
    write(root / "d" / "b.txt", b"yy")
    p = build_preview(entries_of(root), out_dir=str(root), roots=[str(root)])
    assert p.collisions == 2
    assert all(r.collision == "output would overwrite this input file" for r in p.rows)
    assert p.warnings and "inside the scanned folder" in p.warnings[0]


def test_output_inside_tree_onto_another_input(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "x.txt", b"1")
    write(root / "mirror" / "x.txt", b"22")  # out = in/mirror: in/x.txt -> in/mirror/x.txt
    write(root / "y.txt", b"333")
    out = root / "mirror"
    p = build_preview(entries_of(root), out_dir=str(out), roots=[str(root)])
    rows = {r.entry.rel: r for r in p.rows}
    expected = f"output would overwrite the input file {str(out / 'x.txt')!r}"
    assert rows["x.txt"].collision == expected
    assert rows["y.txt"].collision is None
    assert rows["mirror/x.txt"].out_path == str(out / "mirror" / "x.txt")
    assert rows["mirror/x.txt"].collision is None
    assert p.collisions == 1


def test_output_folder_reached_through_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a.txt")
    (tmp_path / "alias").symlink_to(root)  # --out alias == the input folder, in disguise
    p = build_preview(entries_of(root), out_dir=str(tmp_path / "alias"), roots=[str(root)])
    assert p.rows[0].collision == "output would overwrite this input file"


def test_action_out_path_for_is_used(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a.txt")

    class GzipLike:
        def out_path_for(self, out_dir: str | None, root: str, rel: str, multi: bool) -> str:
            return os.path.join(str(out_dir), rel) + ".gz"

    p = build_preview(entries_of(root), action=GzipLike(), out_dir=str(tmp_path / "o"))
    assert p.rows[0].out_path == str(tmp_path / "o" / "a.txt.gz")


def test_broken_out_path_is_a_collision_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path / "a.txt")

    def boom(e: FileEntry) -> str:
        raise ValueError("bad rel")

    p = build_preview(entries_of(tmp_path), out_path_for=boom)
    assert p.collisions == 1
    assert "bad rel" in (p.rows[0].collision or "")


def test_recount_after_deselecting(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write(root / "a" / "same.txt", b"1")
    write(root / "b" / "same.txt", b"22")
    out = str(tmp_path / "out")
    p = build_preview(
        entries_of(root), out_path_for=lambda e: os.path.join(out, os.path.basename(e.path))
    )
    assert p.collisions == 2
    p.rows = p.rows[:1]  # the user deselects one of the two
    assert mark_collisions(p.rows) == 0
    p.recount()
    assert (p.count, p.collisions, p.total_bytes) == (1, 0, 1)


def test_changed_files_warning(tmp_path: Path) -> None:
    write(tmp_path / "a", b"same")
    write(tmp_path / "b", b"same")
    ents = entries_of(tmp_path)
    write(tmp_path / "b", b"sam")
    p = build_preview(ents)
    assert p.duplicates == 0
    assert any("changed" in w for w in p.warnings)
    assert find_duplicates(ents).stats.changed == 1
