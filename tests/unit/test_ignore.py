"""Ignore rules on their own: what a pattern, a default or an ignore file makes the scanner skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assetsync.errors import ConfigError
from assetsync.folder.ignore import IgnoreRules, read_ignore_file, utf8_text


def test_ignore_file_lines_any_line_end_and_no_bom(tmp_path: Path) -> None:
    f = tmp_path / "ignore"
    f.write_bytes(b"\xef\xbb\xbf*.log\r\n/build/\rcache\n\n# note\n")
    assert read_ignore_file(str(f)) == ["*.log", "/build/", "cache", "", "# note"]
    assert read_ignore_file(str(tmp_path / "missing")) == []


def test_unreadable_ignore_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_ignore_file(str(tmp_path))  # a folder: open() fails with an OSError
    assert str(info.value) == f"cannot read {tmp_path}: Is a directory. Check its permissions."


def test_text_that_is_not_utf8_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        utf8_text(b"a\nb\nc\xff\nd\ne\nf\n", "site/.assetsignore")
    assert str(info.value) == "site/.assetsignore, line 3: not valid UTF-8 text. Save the file as UTF-8."
    with pytest.raises(ConfigError, match=r"^f, line 1: "):
        utf8_text(b"\xc3", "f")
    with pytest.raises(ConfigError, match=r"^f, line 2: "):
        utf8_text(b"\n\xc3", "f")


def test_an_ignore_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "ignore").write_bytes(b"*.log\n\xff\n")
    with pytest.raises(ConfigError) as info:
        read_ignore_file(str(tmp_path / "ignore"))
    assert str(info.value).startswith(f"{tmp_path / 'ignore'}, line 2: not valid UTF-8 text.")
    assert utf8_text(b"\xef\xbb\xbfa", "f") == "\ufeffa"  # plain UTF-8 keeps a BOM
    assert utf8_text(b"\xef\xbb\xbfa", "f", "utf-8-sig") == "a"


def test_defaults_skip_junk_by_name_at_any_depth(tmp_path: Path) -> None:
    rules = IgnoreRules.load(str(tmp_path))
    assert rules.spec is None and rules.patterns == ()
    assert rules.skip_file("a/b/.DS_Store", ".DS_Store") and rules.skip_file("Thumbs.db", "Thumbs.db")
    for name in (".git", "node_modules", ".wrangler", ".assetsync"):
        assert rules.skip_dir(f"x/{name}", name)
        assert not rules.skip_file(f"x/{name}", name)  # a file of that name is an asset
    assert not rules.skip_file("index.html", "index.html")
    assert not rules.skip_dir("assets", "assets")


def test_no_default_ignores_skips_nothing_but_the_patterns(tmp_path: Path) -> None:
    rules = IgnoreRules.load(str(tmp_path), extra=["*.map"], default_ignores=False)
    assert not rules.skip_file(".DS_Store", ".DS_Store")
    assert not rules.skip_dir("node_modules", "node_modules")
    assert rules.skip_file("js/app.js.map", "app.js.map")
    assert rules.patterns == ("*.map",)


def test_ignore_file_and_options_combine_with_gitignore_semantics(tmp_path: Path) -> None:
    (tmp_path / ".assetsignore").write_text("*.log\n!keep.log\nlogs/\n/top.txt\n")
    rules = IgnoreRules.load(str(tmp_path), extra=["drafts/**"])
    assert rules.patterns == ("*.log", "!keep.log", "logs/", "/top.txt", "drafts/**")
    assert rules.skip_file("a/x.log", "x.log")
    assert not rules.skip_file("a/keep.log", "keep.log")  # negation
    assert rules.skip_dir("a/logs", "logs")  # a trailing slash matches folders...
    assert not rules.skip_file("a/logs", "logs")  # ...and not a file of that name
    assert rules.skip_file("top.txt", "top.txt") and not rules.skip_file("a/top.txt", "top.txt")
    assert rules.skip_file("drafts/x/y.md", "y.md")
    assert rules.skip_file(".DS_Store", ".DS_Store")  # defaults still apply


def test_patterns_only_from_the_option(tmp_path: Path) -> None:
    rules = IgnoreRules.load(str(tmp_path), extra=("*.tmp",))
    assert rules.skip_file("a.tmp", "a.tmp") and not rules.skip_file("a.txt", "a.txt")


def test_a_folder_inside_the_root_is_skipped_wholesale(tmp_path: Path) -> None:
    (tmp_path / "cache" / "sub").mkdir(parents=True)
    outside = tmp_path.parent / (tmp_path.name + "-cache")
    rules = IgnoreRules.load(str(tmp_path), exclude_dirs=[str(tmp_path / "cache" / "sub"), str(outside)])
    assert rules.patterns == ("/cache/sub/",)
    assert rules.skip_dir("cache/sub", "sub")
    assert not rules.skip_dir("cache", "cache") and not rules.skip_dir("other/sub", "sub")
    same = IgnoreRules.load(str(tmp_path), exclude_dirs=[str(tmp_path), str(tmp_path.parent)])
    assert same.patterns == () and same.spec is None


def test_a_folder_reached_through_a_symlink_is_still_recognised(tmp_path: Path) -> None:
    (tmp_path / "site" / "c").mkdir(parents=True)
    os.symlink(tmp_path / "site", tmp_path / "link")
    rules = IgnoreRules.load(str(tmp_path / "link"), exclude_dirs=[str(tmp_path / "site" / "c")])
    assert rules.patterns == ("/c/",)


def test_a_bad_line_in_the_ignore_file_is_named(tmp_path: Path) -> None:
    (tmp_path / ".assetsignore").write_text("*.log\n# fine\n!\n")
    with pytest.raises(ConfigError) as info:
        IgnoreRules.load(str(tmp_path))
    path = os.path.join(str(tmp_path), ".assetsignore")
    assert (
        str(info.value)
        == f"{path}, line 3: invalid pattern '!' (.gitignore syntax). Fix or remove that line."
    )


def test_a_bad_ignore_option_is_named(tmp_path: Path) -> None:
    (tmp_path / ".assetsignore").write_text("*.log\n")
    with pytest.raises(ConfigError) as info:
        IgnoreRules.load(str(tmp_path), extra=["*.tmp", "\\"])
    assert str(info.value) == "--ignore '\\\\': invalid pattern (.gitignore syntax). Fix or drop that option."
