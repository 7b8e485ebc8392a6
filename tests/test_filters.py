"""Filter parsing (sizes, times, flags, recipe dicts) and the compiled predicates."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from tui_batch.errors import InputError
from tui_batch.model import FilterSpec
from tui_batch.select import (
    compile_filter,
    filter_from_dict,
    filter_from_options,
    normalise_ext,
    parse_size,
    parse_when,
)

# ---------------------------------------------------------------------------------------------
# parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("512", 512),
        ("512b", 512),
        ("512B", 512),
        ("10k", 10_000),
        ("10kb", 10_000),
        ("10KB", 10_000),
        ("10ki", 10_240),
        ("10KiB", 10_240),
        ("1m", 1_000_000),
        ("1mb", 1_000_000),
        ("1mi", 1_048_576),
        ("1.5MiB", 1_572_864),
        ("2GB", 2_000_000_000),
        ("2gib", 2 * 1024**3),
        ("1t", 10**12),
        ("1TiB", 1024**4),
        (" 3 k ", 3000),
        (".5k", 500),
        ("1.", 1),
        ("1.0005k", 1000),  # rounded to the nearest byte
    ],
)
def test_parse_size_units(text: str, expected: int) -> None:
    assert parse_size(text, "--min-size") == expected


def test_parse_size_accepts_ints() -> None:
    assert parse_size(1025, "--min-size") == 1025


@pytest.mark.parametrize("text", ["", "k", "-5", "1,5k", "abc", "5 k b", "1e3"])
def test_parse_size_garbage_names_field(text: str) -> None:
    with pytest.raises(InputError) as ei:
        parse_size(text, "--max-size")
    assert ei.value.field == "--max-size"
    assert "size" in ei.value.message


def test_parse_size_unknown_unit_is_named() -> None:
    with pytest.raises(InputError) as ei:
        parse_size("10xb", "--min-size")
    assert ei.value.field == "--min-size"
    assert "unknown size unit 'xb'" in ei.value.message
    assert "\n" not in str(ei.value)


# ---------------------------------------------------------------------------------------------
# parse_when

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30s", 30),
        ("15min", 15 * 60),
        ("15m", 15 * 60),
        ("12h", 12 * 3600),
        ("7d", 7 * 86400),
        ("2w", 14 * 86400),
        ("1d12h", 36 * 3600),
        ("1d 12h 30min", 36 * 3600 + 1800),
        ("1.5h", 5400),
        ("3 days", 3 * 86400),
        ("1y", 365.25 * 86400),
    ],
)
def test_parse_when_relative(text: str, ago: float) -> None:
    assert parse_when(text, "--newer", now=NOW) == pytest.approx(NOW - ago)


def test_parse_when_iso_forms_are_local_when_naive() -> None:
    midnight = dt.datetime(2024, 5, 1).timestamp()
    assert parse_when("2024-05-01", "--newer") == midnight
    assert parse_when("2024-05-01T12:00", "--newer") == midnight + 12 * 3600
    assert parse_when("2024-05-01 12:00:00", "--newer") == midnight + 12 * 3600
    utc = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC).timestamp()
    assert parse_when("2024-05-01T12:00:00Z", "--older") == utc
    assert parse_when("2024-05-01T14:00:00+02:00", "--older") == utc


def test_parse_when_epoch_now_and_numbers() -> None:
    assert parse_when("@1700000000", "--newer") == 1_700_000_000.0
    assert parse_when("now", "--newer", now=NOW) == NOW
    assert parse_when(12.5, "--newer") == 12.5
    assert parse_when(dt.datetime(2024, 5, 1), "--newer") == dt.datetime(2024, 5, 1).timestamp()
    assert abs(parse_when("0s", "--newer") - time.time()) < 5


@pytest.mark.parametrize("text", ["", "yesterday", "7", "7x", "2024-13-01", "1d-2h", "@abc"])
def test_parse_when_errors_name_field(text: str) -> None:
    with pytest.raises(InputError) as ei:
        parse_when(text, "--older", now=NOW)
    assert ei.value.field == "--older"


# ---------------------------------------------------------------------------------------------
# filter_from_options


def test_extensions_normalised(tmp_path: Path) -> None:
    spec = filter_from_options([str(tmp_path)], ext=["log", ".LOG", "*.Txt", "tar.gz"])
    assert spec.extensions == [".log", ".txt", ".tar.gz"]
    assert normalise_ext("*.CSV") == ".csv"
    with pytest.raises(InputError) as ei:
        normalise_ext("*.")
    assert ei.value.field == "--ext"


def test_options_parse_everything(tmp_path: Path) -> None:
    spec = filter_from_options(
        [str(tmp_path)],
        ext=".log",
        min_size="1k",
        max_size="2MiB",
        newer="7d",
        older="1d",
        name=r"^app",
        exclude=["build"],
        exclude_re=[r"/tmp/"],
        hidden=True,
        follow=True,
        no_ignore=True,
        now=NOW,
    )
    assert spec == FilterSpec(
        roots=[str(tmp_path)],
        extensions=[".log"],
        min_size=1000,
        max_size=2 * 1024**2,
        newer=NOW - 7 * 86400,
        older=NOW - 86400,
        name_regex="^app",
        excludes=["build"],
        exclude_res=["/tmp/"],
        hidden=True,
        follow=True,
        use_ignore=False,
    )


def test_empty_strings_mean_not_given(tmp_path: Path) -> None:
    spec = filter_from_options(
        [str(tmp_path)], ext=[""], min_size="", max_size="", newer="", older="", name=""
    )
    assert spec == FilterSpec(roots=[str(tmp_path)])


def test_default_root_is_cwd_and_roots_deduplicated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert filter_from_options().roots == ["."]
    assert filter_from_options([".", str(tmp_path), "./"]).roots == ["."]


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"name": "(unclosed"}, "--name", "bad regular expression"),
        ({"exclude_re": ["ok", "[z-a]"]}, "--exclude-re", "bad regular expression"),
        ({"min_size": "2M", "max_size": "1M"}, "--min-size", "larger than maximum"),
        ({"min_size": "12parsecs"}, "--min-size", "unknown size unit"),
        ({"max_size": "lots"}, "--max-size", "not a size"),
        ({"newer": "1d", "older": "7d"}, "--newer", "not before"),
        ({"newer": "2024-05-01", "older": "2024-05-01"}, "--newer", "not before"),
        ({"older": "last week"}, "--older", "not a date"),
        ({"ext": ["."]}, "--ext", "not an extension"),
    ],
)
def test_option_errors_name_the_field(
    tmp_path: Path, kwargs: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InputError) as ei:
        filter_from_options([str(tmp_path)], **kwargs)  # type: ignore[arg-type]
    assert ei.value.field == field
    assert words in ei.value.message
    assert "\n" not in ei.value.message


def test_roots_must_exist_and_be_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        filter_from_options([str(tmp_path / "nope")])
    assert ei.value.field == "ROOT"
    assert "no such folder" in ei.value.message
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(InputError) as ei:
        filter_from_options([str(f)])
    assert ei.value.field == "ROOT"
    assert "not a folder" in ei.value.message
    # the TUI's live count may skip the check while the user is still typing
    assert filter_from_options([str(tmp_path / "nope")], check_roots=False).roots


def test_min_equal_max_is_fine(tmp_path: Path) -> None:
    spec = filter_from_options([str(tmp_path)], min_size="1k", max_size="1000")
    assert spec.min_size == spec.max_size == 1000


# ---------------------------------------------------------------------------------------------
# filter_from_dict


def test_dict_round_trip(tmp_path: Path) -> None:
    spec = filter_from_options(
        [str(tmp_path)], ext=["log"], min_size="1k", newer="2024-01-01", exclude=["x"]
    )
    assert filter_from_dict(spec.to_dict()) == spec
    assert FilterSpec.from_dict(spec.to_dict()) == spec


def test_dict_unknown_key_named(tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        filter_from_dict({"roots": [str(tmp_path)], "min_sise": 3})
    assert ei.value.field == "filter"
    assert "min_sise" in ei.value.message


def test_dict_accepts_recipe_text(tmp_path: Path) -> None:
    spec = filter_from_dict(
        {"roots": str(tmp_path), "extensions": "LOG", "min_size": "1.5KiB", "newer": "2d"},
        now=NOW,
    )
    assert spec.roots == [str(tmp_path)]
    assert spec.extensions == [".log"]
    assert spec.min_size == 1536
    assert spec.newer == NOW - 2 * 86400


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"min_size": "1x"}, "filter.min_size"),
        ({"min_size": [1]}, "filter.min_size"),
        ({"hidden": "yes"}, "filter.hidden"),
        ({"name_regex": "("}, "filter.name_regex"),
        ({"exclude_res": ["("]}, "filter.exclude_res"),
        ({"extensions": [3]}, "filter.extensions"),
        ({"min_size": 5, "max_size": 4}, "filter.min_size"),
        ({"newer": 10.0, "older": 5.0}, "filter.newer"),
        ({"older": True}, "filter.older"),
    ],
)
def test_dict_errors_name_the_key(tmp_path: Path, data: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as ei:
        filter_from_dict({"roots": [str(tmp_path)], **data})
    assert ei.value.field == field


def test_dict_roots_checked_unless_resuming(tmp_path: Path) -> None:
    gone = str(tmp_path / "gone")
    with pytest.raises(InputError) as ei:
        filter_from_dict({"roots": [gone]})
    assert ei.value.field == "filter.roots"
    assert filter_from_dict({"roots": [gone]}, check_roots=False).roots == [gone]


# ---------------------------------------------------------------------------------------------
# compiled filter


def test_match_file_ext_case_insensitive_and_sizes(tmp_path: Path) -> None:
    cf = compile_filter(
        filter_from_options([str(tmp_path)], ext=["log", "tar.gz"], min_size="10", max_size="20")
    )
    assert cf.match_file("a/B.LOG", "B.LOG", 10, 0.0)
    assert cf.match_file("x.tar.gz", "x.tar.gz", 20, 0.0)
    assert not cf.match_file("x.gz", "x.gz", 15, 0.0)
    assert not cf.match_file("a.log", "a.log", 9, 0.0)
    assert not cf.match_file("a.log", "a.log", 21, 0.0)
    assert not cf.match_file("a.logx", "a.logx", 15, 0.0)


def test_match_file_times(tmp_path: Path) -> None:
    cf = compile_filter(FilterSpec(roots=[str(tmp_path)], newer=100.0, older=200.0))
    assert cf.match_file("a", "a", 1, 100.0)  # newer is inclusive
    assert cf.match_file("a", "a", 1, 199.9)
    assert not cf.match_file("a", "a", 1, 200.0)  # older is exclusive
    assert not cf.match_file("a", "a", 1, 99.0)


def test_hidden_and_name_regex(tmp_path: Path) -> None:
    cf = compile_filter(FilterSpec(roots=[str(tmp_path)], name_regex=r"^rep"))
    assert cf.match_file("d/report.txt", "report.txt", 1, 0)
    assert not cf.match_file("d/my-report.txt", "my-report.txt", 1, 0)
    assert not cf.match_file(".report", ".report", 1, 0)
    assert cf.excluded_dir(".git", ".git")
    assert not cf.excluded_dir("src", "src")
    cf2 = compile_filter(FilterSpec(roots=[str(tmp_path)], hidden=True))
    assert cf2.match_file(".env", ".env", 1, 0)
    assert not cf2.excluded_dir(".git", ".git")


def test_exclude_globs_and_names(tmp_path: Path) -> None:
    cf = compile_filter(
        FilterSpec(
            roots=[str(tmp_path)],
            excludes=["node_modules", "*.tmp", "src/gen*", "**/cache/**", "out/", "docs/**/*.md"],
        )
    )
    # a plain name prunes every folder or file with that base name
    assert cf.excluded_dir("a/b/node_modules", "node_modules")
    assert not cf.match_file("node_modules", "node_modules", 1, 0)
    # a glob without '/' is matched against the base name at any depth
    assert not cf.match_file("a/b/x.tmp", "x.tmp", 1, 0)
    assert cf.match_file("a/b/x.tmpl", "x.tmpl", 1, 0)
    # with '/': against the root-relative path, '*' stops at '/'
    assert cf.excluded_dir("src/generated", "generated")
    assert not cf.excluded_dir("lib/src/generated", "generated")
    assert not cf.match_file("src/gen.py", "gen.py", 1, 0)
    # '**' crosses folders
    assert not cf.match_file("a/cache/b/c.txt", "c.txt", 1, 0)
    assert not cf.match_file("docs/a/b/x.md", "x.md", 1, 0)
    assert not cf.match_file("docs/x.md", "x.md", 1, 0)
    assert cf.match_file("docs/x.txt", "x.txt", 1, 0)
    # trailing '/' = folders only
    assert cf.excluded_dir("a/out", "out")
    assert cf.match_file("a/out", "out", 1, 0)


def test_exclude_exact_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "build").mkdir(parents=True)
    (tmp_path / "b" / "build").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    # relative to the current folder: only that one path is pruned
    cf = compile_filter(FilterSpec(roots=["."], excludes=["a/build"]))
    assert cf.excluded_dir("a/build", "build")
    assert not cf.excluded_dir("b/build", "build")
    # absolute, with the root given another way
    cf = compile_filter(FilterSpec(roots=[str(tmp_path)], excludes=[str(tmp_path / "b/build")]))
    assert cf.excluded_dir("b/build", "build")
    assert not cf.excluded_dir("a/build", "build")
    # an exclude naming the root empties it
    cf = compile_filter(FilterSpec(roots=[str(tmp_path / "a")], excludes=[str(tmp_path / "a")]))
    assert cf.root_excluded(0)


def test_exclude_regex_on_relative_path(tmp_path: Path) -> None:
    cf = compile_filter(FilterSpec(roots=[str(tmp_path)], exclude_res=[r"(^|/)build/", r"\.bak$"]))
    assert cf.excluded_dir("a/build", "build")  # tried on 'a/build/' too
    assert not cf.match_file("a/build/x.c", "x.c", 1, 0)
    assert not cf.match_file("x.c.bak", "x.c.bak", 1, 0)
    assert cf.match_file("rebuild/x.c", "x.c", 1, 0)


# ---------------------------------------------------------------------------------------------
# match_path / entry_for (watch mode)


def make(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_match_path_single_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make(root / "a" / "x.log", b"12345")
    make(root / "a" / "small.log", b"1")
    make(root / ".hid" / "y.log", b"12345")
    make(root / "skip" / "z.log", b"12345")
    make(root / "ign" / "w.log", b"12345")
    make(root / ".gitignore", b"ign/\n")
    make(tmp_path / "outside.log", b"12345")
    cf = compile_filter(
        filter_from_options([str(root)], ext=["log"], min_size="2", exclude=["skip"])
    )
    e = cf.entry_for(str(root / "a" / "x.log"))
    assert e is not None
    assert (e.root, e.rel, e.size) == (str(root), "a/x.log", 5)
    assert e.path == os.path.join(str(root), "a/x.log")
    st = os.stat(root / "a" / "x.log")
    assert (e.dev, e.ino, e.mtime_ns) == (st.st_dev, st.st_ino, st.st_mtime_ns)
    assert not cf.match_path(str(root / "a" / "small.log"))  # too small
    assert not cf.match_path(str(root / ".hid" / "y.log"))  # hidden folder on the way
    assert not cf.match_path(str(root / "skip" / "z.log"))  # excluded folder on the way
    assert not cf.match_path(str(root / "ign" / "w.log"))  # ignored by .gitignore
    assert not cf.match_path(str(tmp_path / "outside.log"))  # not under the root
    assert not cf.match_path(str(root / "a" / "gone.log"))  # does not exist
    # ignore rules are re-read when the ignore file changes
    make(root / ".gitignore", b"# nothing\n")
    os.utime(root / ".gitignore", ns=(1, 1))
    assert cf.match_path(str(root / "ign" / "w.log"))
    no_ign = compile_filter(filter_from_options([str(root)], ext=["log"], no_ignore=True))
    assert no_ign.match_path(str(root / "ign" / "w.log"))


def test_match_path_symlinks_only_with_follow(tmp_path: Path) -> None:
    make(tmp_path / "real.txt")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    plain = compile_filter(FilterSpec(roots=[str(tmp_path)]))
    follow = compile_filter(FilterSpec(roots=[str(tmp_path)], follow=True))
    assert plain.match_path(str(tmp_path / "real.txt"))
    assert not plain.match_path(str(tmp_path / "link.txt"))
    assert follow.match_path(str(tmp_path / "link.txt"))
    assert not plain.match_path(str(tmp_path / "link.txt"), os.lstat(tmp_path / "link.txt"))
