"""The scanner and ignore rules, on fixture trees kept as data and trees made on the spot."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from assetsync.errors import ConfigError, SourceNotFound, UnreadablePath
from assetsync.folder.build import BuildOptions, build, build_manifest

from ..helpers import FIXTURES, make_tree


def keys(root: Path, **kw: object) -> list[str]:
    return list(build_manifest(str(root), cache=False, **kw))  # type: ignore[arg-type]


def test_ignore_semantics_fixture(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "ignore-tree" / "tree", tree)
    # Kept out of git (git refuses .git paths): default-ignored folders made here.
    make_tree(tree, {".git/HEAD": "ref", "node_modules/pkg/index.js": "x", "a/node_modules/b.js": "x"})
    expected = (FIXTURES / "ignore-tree" / "expected.txt").read_text().split()
    assert keys(tree) == expected
    assert (tree / ".assetsignore").read_bytes().count(b"\r\n") > 5  # CRLF really exercised


def test_no_default_ignores_and_extra_patterns(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.html": "", ".DS_Store": "", "node_modules/x.js": "", "b.map": ""})
    assert keys(tmp_path) == ["/a.html", "/b.map"]
    assert keys(tmp_path, default_ignores=False) == ["/.DS_Store", "/a.html", "/b.map", "/node_modules/x.js"]
    assert keys(tmp_path, ignore=["*.map"]) == ["/a.html"]


def test_root_config_files_are_not_assets_but_nested_ones_are(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            "_headers": "",
            "_redirects": "",
            ".assetsignore": "",
            "sub/_headers": "",
            "sub/_redirects": "",
            "sub/.assetsignore": "",
        },
    )
    assert keys(tmp_path) == ["/sub/.assetsignore", "/sub/_headers", "/sub/_redirects"]


def test_unicode_spaces_dots_and_empty_files(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            "docs/café menü.html": "x",
            "a b/c d.txt": "",
            ".well-known/security.txt": "",
            "日本語/ファイル.txt": "y",
        },
    )
    assert keys(tmp_path) == [
        "/.well-known/security.txt",
        "/a b/c d.txt",
        "/docs/café menü.html",
        "/日本語/ファイル.txt",
    ]
    m = build_manifest(str(tmp_path), cache=False)
    assert m["/a b/c d.txt"].size == 0
    assert "café menü" in m.to_json()  # raw UTF-8, not \u escapes


def test_nfd_and_nfc_names_are_kept_apart(tmp_path: Path) -> None:
    nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
    make_tree(tmp_path, {nfc: "1", nfd: "2"})
    assert sorted(keys(tmp_path)) == sorted(["/" + nfc, "/" + nfd])


def test_same_bytes_under_two_extensions_get_two_hashes(tmp_path: Path) -> None:
    make_tree(tmp_path, {"empty.css": "", "empty.js": "", "x.css": "a{}", "y.js": "a{}"})
    m = build_manifest(str(tmp_path), cache=False)
    assert m["/empty.css"].hash != m["/empty.js"].hash
    assert m["/x.css"].hash != m["/y.js"].hash


def test_symlinks_are_followed(tmp_path: Path) -> None:
    site, outside = tmp_path / "site", tmp_path / "outside"
    make_tree(outside, {"lib/a.js": "a", "one.txt": "1"})
    make_tree(site, {"index.html": "i"})
    os.symlink(outside / "lib", site / "lib")
    os.symlink(outside / "one.txt", site / "alias.txt")
    assert keys(site) == ["/alias.txt", "/index.html", "/lib/a.js"]


def test_broken_symlink_is_an_error_naming_it(tmp_path: Path) -> None:
    make_tree(tmp_path, {"index.html": "i"})
    os.symlink(tmp_path / "nowhere.txt", tmp_path / "dangling.txt")
    with pytest.raises(UnreadablePath, match=r"dangling\.txt: broken symlink \(points to .*nowhere\.txt"):
        keys(tmp_path)


@pytest.mark.parametrize("target", [".", "..", "self"])
def test_symlink_loops_are_errors(tmp_path: Path, target: str) -> None:
    site = make_tree(tmp_path / "site", {"sub/a.txt": "a"})
    link = site / "sub" / "loop"
    os.symlink(link if target == "self" else Path(target), link)
    with pytest.raises(UnreadablePath, match="symlink loop"):
        keys(site)


def test_special_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.txt": "a"})
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    warnings: list[str] = []
    try:
        # A FIFO with no writer would block any open(): finishing proves it was never opened.
        m = build_manifest(str(tmp_path), cache=False, warn=warnings.append)
    finally:
        sock.close()
    assert list(m) == ["/a.txt"]
    assert sorted(warnings) == [
        f"skipped {tmp_path}/pipe: a FIFO, not a regular file",
        f"skipped {tmp_path}/sock: a socket, not a regular file",
    ]


def test_non_utf8_name_is_an_error(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ok.txt": "x"})
    bad = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(bad, "wb") as f:
        f.write(b"x")
    with pytest.raises(UnreadablePath, match=r"caf\\xe9\.txt: the name is not valid UTF-8"):
        keys(tmp_path)


def test_name_with_newline_is_an_error(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a\nb.txt": "x"})
    with pytest.raises(UnreadablePath, match="control character"):
        keys(tmp_path)


def test_missing_folder_and_file_instead_of_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="no such folder"):
        keys(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(SourceNotFound, match="is a file, not a folder"):
        keys(tmp_path / "f.txt")


def test_empty_folder_gives_an_empty_manifest(tmp_path: Path) -> None:
    assert build_manifest(str(tmp_path), cache=False).to_json() == '{"manifest":{}}'


def test_invalid_ignore_pattern_names_file_and_line(tmp_path: Path) -> None:
    make_tree(tmp_path, {".assetsignore": "*.log\n# fine\n!\n", "a.txt": ""})
    with pytest.raises(ConfigError, match=r"\.assetsignore, line 3: invalid pattern '!'"):
        keys(tmp_path)


def test_cache_dir_inside_the_site_is_never_an_asset(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.txt": "a"})
    result = build(str(tmp_path), BuildOptions(cache_dir=str(tmp_path / "state" / "cache")))
    assert list(result.manifest) == ["/a.txt"]
    assert any((tmp_path / "state" / "cache").iterdir())
    again = build(str(tmp_path), BuildOptions(cache_dir=str(tmp_path / "state" / "cache")))
    assert list(again.manifest) == ["/a.txt"]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv: apt-get install util-linux")
def test_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ok.txt": "x", "secret.txt": "y"})
    (tmp_path / "secret.txt").chmod(0)
    # Root reads anything: drop the capabilities that let it, as an ordinary user would lack them.
    proc = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            sys.executable,
            "-m",
            "assetsync",
            "manifest",
            str(tmp_path),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 4, proc.stderr
    assert f"error: {tmp_path}/secret.txt: cannot be read (Permission denied)" in proc.stderr
