"""Output paths: mirroring, refusing unsafe targets, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_batch.actions import (
    OutputError,
    atomic_path,
    atomic_write,
    check_output_path,
    display_path,
    mirror_path,
    temp_output_path,
)
from tui_batch.actions.output import TEMP_MARKER
from tui_batch.errors import TuiBatchError


def test_output_error_is_a_tui_batch_error() -> None:
    assert issubclass(OutputError, TuiBatchError)


# -- mirror_path --------------------------------------------------------------------------------


def test_mirror_single_root() -> None:
    assert mirror_path("/out", "/data/in", "a/b.txt", False) == "/out/a/b.txt"
    assert mirror_path("out", ".", "b.txt", False) == "out/b.txt"


def test_mirror_multi_root_uses_root_basename() -> None:
    assert mirror_path("/out", "/data/photos/", "a.jpg", True) == "/out/photos/a.jpg"
    assert mirror_path("/out", "/srv/logs", "x/y.log", True) == "/out/logs/x/y.log"
    assert mirror_path("/out", "/", "etc/x", True) == "/out/root/etc/x"


@pytest.mark.parametrize("rel", ["", "/etc/passwd", "../x", "a/../../x"])
def test_mirror_refuses_escaping_rel(rel: str) -> None:
    with pytest.raises(OutputError):
        mirror_path("/out", "/in", rel, False)


def test_mirror_keeps_non_utf8_bytes() -> None:
    rel = os.fsdecode(b"d\xff/caf\xe9.txt")
    assert os.fsencode(mirror_path("/o", "/i", rel, False)) == b"/o/d\xff/caf\xe9.txt"


# -- check_output_path --------------------------------------------------------------------------


def test_check_accepts_a_normal_output(tmp_path: Path) -> None:
    src = tmp_path / "in" / "a.txt"
    src.parent.mkdir()
    src.write_text("x")
    out = tmp_path / "out"
    check_output_path(str(out / "a.txt"), str(out), str(src))  # out does not exist yet
    out.mkdir()
    (out / "sub").mkdir()
    check_output_path(str(out / "sub" / "new" / "a.txt"), str(out), str(src))


def test_check_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("x")
    check_output_path("out/a.txt", "out", "in.txt")
    with pytest.raises(OutputError):
        check_output_path("out/../in.txt", "out", "in.txt")


def test_check_refuses_outside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OutputError, match="outside"):
        check_output_path(str(tmp_path / "other" / "a.txt"), str(out), "/in/a")
    with pytest.raises(OutputError, match="outside"):
        check_output_path(str(out / ".." / "a.txt"), str(out), "/in/a")
    with pytest.raises(OutputError):
        check_output_path(str(out), str(out), "/in/a")  # the folder itself


def test_check_refuses_the_input(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    with pytest.raises(OutputError, match="overwrite its input"):
        check_output_path(str(src), str(tmp_path), str(src))


def test_check_refuses_a_hardlink_of_the_input(tmp_path: Path) -> None:
    src = tmp_path / "in" / "a.txt"
    src.parent.mkdir()
    src.write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    os.link(src, out / "a.txt")
    with pytest.raises(OutputError, match="overwrite its input"):
        check_output_path(str(out / "a.txt"), str(out), str(src))


def test_check_refuses_symlinks_on_the_way(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "link").symlink_to(elsewhere)
    with pytest.raises(OutputError, match="symlink"):
        check_output_path(str(out / "link" / "a.txt"), str(out), "/in/a")
    # a symlink inside out_dir that points inside out_dir is refused too
    (out / "real").mkdir()
    (out / "alias").symlink_to(out / "real")
    with pytest.raises(OutputError, match="symlink"):
        check_output_path(str(out / "alias" / "a.txt"), str(out), "/in/a")


def test_check_refuses_a_symlinked_target(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "a.txt").symlink_to(victim)
    with pytest.raises(OutputError, match="symlink"):
        check_output_path(str(out / "a.txt"), str(out), "/in/a")
    (out / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="symlink"):
        check_output_path(str(out / "dangling"), str(out), "/in/a")


def test_check_allows_a_symlinked_out_dir(tmp_path: Path) -> None:
    """--out itself may be a symlink (a user's choice); only what is below it is guarded."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "out").symlink_to(real)
    check_output_path(str(tmp_path / "out" / "a.txt"), str(tmp_path / "out"), "/in/a")
    # and a caller that resolved one path but not the other
    check_output_path(str(real / "a.txt"), str(tmp_path / "out"), "/in/a")


def test_check_reports_a_file_in_the_way(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "f").write_text("x")
    with pytest.raises(OutputError):
        check_output_path(str(out / "f" / "a.txt"), str(out), "/in/a")


# -- temp_output_path ---------------------------------------------------------------------------


def test_temp_name_shape() -> None:
    tmp = temp_output_path("/o/sub/video.final.mp4")
    folder, name = os.path.split(tmp)
    assert folder == "/o/sub"
    assert name.startswith(".video.final" + TEMP_MARKER)
    assert name.endswith(".mp4")
    assert temp_output_path("/o/a.tar.gz").endswith(".tar.gz")
    assert temp_output_path("/o/a") != temp_output_path("/o/a")
    dot = os.path.basename(temp_output_path("/o/.bashrc"))
    assert dot.startswith("..bashrc" + TEMP_MARKER)
    assert len(dot) == len("..bashrc" + TEMP_MARKER) + 10  # nothing taken for an extension


def test_temp_name_fits_name_max() -> None:
    long = "x" * 250 + ".txt"
    tmp = os.path.basename(temp_output_path("/o/" + long))
    assert len(os.fsencode(tmp)) <= 255
    assert tmp.endswith(".txt")
    raw = os.fsdecode(b"\xe9" * 200 + b".bin")
    tmp = os.path.basename(temp_output_path("/o/" + raw))
    assert len(os.fsencode(tmp)) <= 255


# -- atomic_write / atomic_path -----------------------------------------------------------------


def test_atomic_write_creates_parents_and_replaces(tmp_path: Path) -> None:
    final = tmp_path / "a" / "b" / "c.bin"
    with atomic_write(str(final)) as f:
        f.write(b"one")
        assert not final.exists()  # invisible until the block succeeds
    assert final.read_bytes() == b"one"
    with atomic_write(str(final), "w", fsync=True) as f:
        f.write("two")
    assert final.read_text() == "two"
    assert os.listdir(final.parent) == ["c.bin"]


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "c.txt"
    final.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(str(final)) as f:
        f.write(b"half")
        raise RuntimeError("boom")
    assert final.read_text() == "old"
    assert os.listdir(tmp_path) == ["c.txt"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "d" / "c.txt"
    with pytest.raises(KeyboardInterrupt), atomic_path(str(final)) as tmp:
        Path(tmp).write_text("half")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path / "d") == []
    with atomic_path(str(final), fsync=True) as tmp:
        assert os.path.dirname(tmp) == str(final.parent)
        Path(tmp).write_text("ok")
    assert final.read_text() == "ok"


def test_atomic_write_refuses_symlink_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(OutputError), atomic_write(str(link)) as f:
        f.write(b"x")
    assert victim.read_text() == "precious"
    assert link.is_symlink()


def test_atomic_write_non_utf8_name(tmp_path: Path) -> None:
    final = os.path.join(str(tmp_path), os.fsdecode(b"caf\xe9.txt"))
    with atomic_write(final) as f:
        f.write(b"ok")
    assert os.listdir(os.fsencode(tmp_path)) == [b"caf\xe9.txt"]


def test_atomic_write_bad_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError), atomic_write(str(tmp_path / "x"), "ab"):
        pass


def test_display_path() -> None:
    assert display_path(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
    assert display_path("plain/é") == "plain/é"
