"""The limit checks' messages, exactly as a user reads them, on scanned files made up in memory."""

from __future__ import annotations

import pytest

from assetsync.errors import FileTooLarge, TooManyFiles
from assetsync.folder.limits import check_count, check_sizes, human_size, top_folders
from assetsync.folder.scan import ScannedFile

MIB = 1 << 20


def files(*spec: str | tuple[str, int]) -> list[ScannedFile]:
    out = []
    for s in spec:
        path, size = s if isinstance(s, tuple) else (s, 0)
        out.append(ScannedFile(path, "/abs" + path, size, 0, 0, 0))
    return out


def test_sizes_past_a_gibibyte_stay_in_gib() -> None:
    assert human_size(2**41) == "2048.0 GiB"
    assert human_size(1536 * 2**30) == "1536.0 GiB"
    assert human_size(1023.4) == "1023 B"
    assert human_size(1024 * 1024 - 1) == "1024.0 KiB"


def test_one_file_too_large_is_named_in_the_singular() -> None:
    with pytest.raises(FileTooLarge) as info:
        check_sizes(files(("/ok", 10), ("/big.bin", 11)), limit=10)
    assert str(info.value) == (
        "1 file over the 10 B (10 bytes) per-file limit:\n"
        "  /big.bin  11 bytes (11 B)\n"
        "Split or compress them, serve them from R2, or add them to .assetsignore."
    )
    assert info.value.files == [("/big.bin", 11)]


def test_files_too_large_are_listed_biggest_first_then_by_name() -> None:
    big = files(("/d", 30 * MIB), ("/c", 30 * MIB), ("/a", 26 * MIB), ("/b", 40 * MIB), ("/e", 25 * MIB))
    with pytest.raises(FileTooLarge) as info:
        check_sizes(big)
    assert info.value.files == [("/b", 40 * MIB), ("/c", 30 * MIB), ("/d", 30 * MIB), ("/a", 26 * MIB)]
    assert str(info.value).startswith("4 files over the 25.0 MiB (26,214,400 bytes) per-file limit:\n  /b  ")
    check_sizes(files(("/e", 25 * MIB)))  # exactly the limit passes


def test_top_folders_counts_every_level_of_the_tree() -> None:
    got = top_folders(files("/a/b/c/1", "/a/b/d/2"))
    assert got == [("/a/b/", 2), ("/a/b/c/", 1), ("/a/b/d/", 1)]
    assert top_folders(files("/a/b/1", "/a/b/2", "/a/3")) == [("/a/", 3), ("/a/b/", 2)]


def test_top_folders_keeps_unrelated_folders_of_the_same_size() -> None:
    assert top_folders(files("/x/1", "/y/2", "/z/3")) == [("/x/", 1), ("/y/", 1), ("/z/", 1)]


def test_top_folders_names_five_by_default() -> None:
    many = files(*(f"/d{i}/f{j}" for i in range(7) for j in range(i + 1)))
    assert top_folders(many) == [("/d6/", 7), ("/d5/", 6), ("/d4/", 5), ("/d3/", 4), ("/d2/", 3)]
    assert top_folders(many, most=2) == [("/d6/", 7), ("/d5/", 6)]
    assert top_folders(files("/root.html")) == []


def test_too_many_files_at_the_root_lists_no_folders() -> None:
    with pytest.raises(TooManyFiles) as info:
        check_count(files("/a", "/b", "/c"), limit=2)
    assert str(info.value) == (
        "3 files, over the limit of 2 files per version.\n"
        "Check that you passed the built site's folder, exclude what is not an asset with "
        ".assetsignore or --ignore, or raise --max-files (paid plans allow 100,000)."
    )
    check_count(files("/a", "/b"), limit=2)


def test_too_many_files_lists_the_fullest_folders() -> None:
    with pytest.raises(TooManyFiles) as info:
        check_count(files("/a/1", "/a/2", "/b/3"), limit=1)
    assert str(info.value).startswith(
        "3 files, over the limit of 1 files per version.\n"
        "Folders holding the most files:\n  /a/  2 files\n  /b/  1 files\nCheck that you passed"
    )
