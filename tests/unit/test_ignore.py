"""Ignore rules on their own: what a pattern, a default or an ignore file makes the scanner skip."""

from __future__ import annotations

import os
from pathlib import Path

import pathspec
import pytest

from assetsync.errors import ConfigError, UnreadablePath
from assetsync.folder.build import Builder, BuildOptions
from assetsync.folder.ignore import (
    _MAY_BE_DEFAULT,
    DEFAULT_PATTERNS,
    IgnoreRules,
    default_ignored,
    read_ignore_file,
    utf8_text,
)
from assetsync.folder.scan import scan


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


# Names the defaults must catch, one per default and per way an editor or tool writes it.
DEFAULT_CAUGHT = [
    ".DS_Store",
    "Thumbs.db",
    ".index.html.swp",  # vim's swap file
    ".index.html.swo",  # vim's second swap file, when the first is taken
    ".index.html.swa",  # the sixteenth
    ".index.html.swx",  # vim's short-lived test of the folder
    ".vimrc.swp",  # vim adds no dot to a name that has one
    "4913",  # vim's write test
    ".#index.html",  # emacs lock link
    "#index.html#",  # emacs auto-save
    "index.html~",  # emacs, vim and nano backups
    ".index.html.un~",  # vim's undo file
    "index.html___jb_tmp___",  # JetBrains safe write
    "index.html___jb_old___",
    ".env",
    ".env.local",
    ".env.production",
    ".envrc",
    ".dev.vars",
    ".dev.vars.staging",
]
# Names that look close and are assets.
DEFAULT_KEPT = [
    "index.html",
    ".index.html.svg",  # a hidden SVG: .s + v + g is not a swap name
    ".index.html.swq",
    ".swp",
    "a.swp",
    "page.swo",
    "env",
    "dot.env",
    "environment.json",
    "dev.vars",
    "#index.html",
    "a#b#",
    "49130",
    "~index.html",
    "jb_tmp___",
    ".well-known",
    ".htaccess",
    "node_modules",  # a file: only the folder is ignored
    ".git",
]


@pytest.mark.parametrize("name", DEFAULT_CAUGHT + DEFAULT_KEPT)
def test_the_name_test_is_the_documented_patterns(name: str) -> None:
    spec = pathspec.GitIgnoreSpec.from_lines(DEFAULT_PATTERNS)
    for folder in (False, True):
        for rel in (name, f"a/b/{name}"):
            path = rel + "/" if folder else rel
            expected = bool(spec.match_file(path))  # pathspec 0.12 says None for no match
            assert default_ignored(name, folder) == expected, (path, expected)
            if expected:  # the pre-filter must let every default match through to the patterns
                assert _MAY_BE_DEFAULT(path) is not None, path
    assert default_ignored(name, False) == (name in DEFAULT_CAUGHT)


@pytest.mark.parametrize("name", DEFAULT_CAUGHT)
def test_each_default_keeps_its_file_off_the_site(tmp_path: Path, name: str) -> None:
    assert kept_by_scan(tmp_path, ["index.html", name, f"deep/er/{name}"]) == {"index.html"}


@pytest.mark.parametrize("name", [".git", "node_modules", ".wrangler", ".assetsync"])
def test_default_folders_match_only_folders(name: str) -> None:
    assert default_ignored(name, True) and not default_ignored(name, False)


def kept_by_scan(root: Path, files: list[str], ignore: str | None = None, **kw: object) -> set[str]:
    """Make ``files`` (empty) under ``root``, then the paths the real scanner keeps."""
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).touch()
    if ignore is not None:
        (root / ".assetsignore").write_text(ignore)
    rules = IgnoreRules.load(str(root), **kw)  # type: ignore[arg-type]
    return {f.path[1:] for f in scan(str(root), rules, lambda _: None)}


# (.assetsignore, {path: published?}): the defaults first, then the file, the last match winning.
REINCLUDE_TABLE: list[tuple[str | None, dict[str, bool]]] = [
    (
        None,
        {
            "index.html": True,
            "assets/node_modules/react/index.js": False,
            "node_modules/a.js": False,
            ".env": False,
            "app/.env.local": False,
            ".index.html.swp": False,
            "index.html~": False,
            ".well-known/security.txt": True,
        },
    ),
    (
        # The request from wrangler users: a bundler writes assets/node_modules/ (Expo).
        "!node_modules/\n",
        {
            "assets/node_modules/react/index.js": True,
            "node_modules/a.js": True,
            "node_modules/.env": False,  # re-including a folder does not re-include its secrets
            "node_modules/pkg/.a.js.swp": False,
            ".git/HEAD": False,
        },
    ),
    (
        # Only the one folder, anchored; the others stay ignored.
        "!/assets/node_modules/\n",
        {"assets/node_modules/react/index.js": True, "node_modules/a.js": False},
    ),
    (
        # A file inside an ignored folder cannot be re-included (gitignore's rule)...
        "!node_modules/keep.js\n",
        {"node_modules/keep.js": False, "node_modules/other.js": False},
    ),
    (
        # ...until the folder is: re-include it, ignore its contents, re-include the file.
        "!node_modules/\n/node_modules/*\n!/node_modules/keep.js\n",
        {"node_modules/keep.js": True, "node_modules/other.js": False, "a/node_modules/b.js": True},
    ),
    (
        "!.env.example\n!4913\n",
        {".env.example": True, "a/.env.example": True, ".env": False, "4913": True, "a/4913": True},
    ),
    (
        # Order matters: a later pattern ignores again what an earlier one re-included.
        "!.env*\n.env.local\n",
        {".env": True, ".env.local": False, ".env.test": True},
    ),
    (
        # The user's own patterns, beside the defaults: a hidden folder is an asset unless listed.
        "*.map\n.cache/\n!keep.map\n",
        {
            "js/app.js.map": False,
            "js/keep.map": True,
            ".cache/x": False,
            ".well-known/x": True,
            ".DS_Store": False,
            "a/#draft.md#": False,
        },
    ),
]


@pytest.mark.parametrize(("ignore", "expected"), REINCLUDE_TABLE)
def test_defaults_then_the_ignore_file_last_match_wins(
    tmp_path: Path, ignore: str | None, expected: dict[str, bool]
) -> None:
    kept = kept_by_scan(tmp_path, list(expected), ignore)
    assert {rel: rel in kept for rel in expected} == expected


def test_with_patterns_a_path_no_default_touches_skips_the_full_list(tmp_path: Path) -> None:
    (tmp_path / ".assetsignore").write_text("*.map\n")
    rules = IgnoreRules.load(str(tmp_path))
    assert rules.spec is not None and rules.combined is not None
    # Every path below gets the verdict the full list (defaults, then the file) gives it.
    for path in ("a/b.html", "a.map", ".env", "x/.git/", "node_modules/", "a/b~/", "y/4913", "z#/"):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if path.endswith("/"):
            assert rules.skip_dir(path[:-1], name) == rules.combined.match_file(path), path
        else:
            assert rules.skip_file(path, name) == rules.combined.match_file(path), path
    off = IgnoreRules.load(str(tmp_path), default_ignores=False)
    assert off.combined is None and not off.skip_file(".env", ".env") and off.skip_file("a.map", "a.map")


def test_no_default_ignores_publishes_every_editor_file_and_secret(tmp_path: Path) -> None:
    assert kept_by_scan(tmp_path, DEFAULT_CAUGHT, default_ignores=False) == set(DEFAULT_CAUGHT)


def test_an_emacs_lock_link_does_not_stop_the_scan(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("hi")
    os.symlink("me@host.1234:1700000000", tmp_path / ".#index.html")  # dangling, as emacs makes it
    kept = scan(str(tmp_path), IgnoreRules.load(str(tmp_path)), pytest.fail)
    assert [f.path for f in kept] == ["/index.html"]
    with pytest.raises(UnreadablePath, match="broken symlink"):
        scan(str(tmp_path), IgnoreRules.load(str(tmp_path), default_ignores=False), pytest.fail)


def test_a_published_secret_is_warned_about_once_per_file(tmp_path: Path) -> None:
    for rel in ("index.html", ".env", ".env.example", "a/.dev.vars", "a/.envelope"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text("x")
    warnings: list[str] = []
    kept = scan(str(tmp_path), IgnoreRules.load(str(tmp_path)), warnings.append)
    assert [f.path for f in kept] == ["/index.html"] and warnings == []
    (tmp_path / ".assetsignore").write_text("!.env.example\n")
    kept = scan(str(tmp_path), IgnoreRules.load(str(tmp_path)), warnings.append)
    assert sorted(f.path for f in kept) == ["/.env.example", "/index.html"]
    assert warnings == [
        f"publishing {tmp_path}/.env.example, which looks like secrets (re-included by a ! pattern): "
        "anyone can download it from the site"
    ]
    warnings.clear()
    scan(str(tmp_path), IgnoreRules.load(str(tmp_path), default_ignores=False), warnings.append)
    assert sorted(warnings) == [
        f"publishing {tmp_path}/{rel}, which looks like secrets (--no-default-ignores): "
        "anyone can download it from the site"
        for rel in (".env", ".env.example", "a/.dev.vars", "a/.envelope")
    ]


def test_watch_rebuilds_drop_editor_files_and_warn_about_a_published_secret(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("hi")
    (tmp_path / ".assetsignore").write_text("!.env.public\n")
    warnings: list[str] = []
    builder = Builder(str(tmp_path), BuildOptions(use_cache=False), warn=warnings.append)
    assert list(builder.full().manifest) == ["/index.html"]
    made = [".index.html.swp", ".index.html.swx", "4913", "index.html~", "#index.html#"]
    made += ["index.html___jb_tmp___", ".env", ".env.public"]
    for name in made:
        (tmp_path / name).write_text("x")
    result = builder.update([str(tmp_path / name) for name in made])
    assert list(result.manifest) == ["/.env.public", "/index.html"]
    assert warnings == [
        f"publishing {tmp_path}/.env.public, which looks like secrets (re-included by a ! pattern): "
        "anyone can download it from the site"
    ]
