from __future__ import annotations

import os
from pathlib import Path

import pytest

from assetsync.build import build_manifest
from assetsync.errors import FileTooLarge, TooManyFiles
from assetsync.limits import MAX_FILE_SIZE, human_size, top_folders
from assetsync.scan import ScannedFile

from .helpers import make_tree


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def test_exactly_25_mib_passes_and_one_byte_more_fails_listing_every_file(tmp_path: Path) -> None:
    sparse(tmp_path / "ok.bin", MAX_FILE_SIZE)
    sparse(tmp_path / "video/big.mp4", MAX_FILE_SIZE + 1)
    sparse(tmp_path / "huge.iso", 3 * MAX_FILE_SIZE)
    with pytest.raises(FileTooLarge) as info:
        build_manifest(str(tmp_path), cache=False)
    msg = str(info.value)
    assert msg.startswith("2 files over the 25.0 MiB (26,214,400 bytes) per-file limit:")
    assert "  /huge.iso  78,643,200 bytes (75.0 MiB)\n  /video/big.mp4  26,214,401 bytes (25.0 MiB)" in msg
    assert "/ok.bin" not in msg
    assert info.value.files == [("/huge.iso", 78_643_200), ("/video/big.mp4", 26_214_401)]


def test_exactly_25_mib_is_accepted(tmp_path: Path) -> None:
    sparse(tmp_path / "ok.bin", MAX_FILE_SIZE)
    assert build_manifest(str(tmp_path), cache=False)["/ok.bin"].size == MAX_FILE_SIZE


def test_too_many_files_names_the_fullest_folders(tmp_path: Path) -> None:
    files = {f"node_stuff/pkg{i % 3}/f{i}.js": "" for i in range(30)}
    files.update({f"img/{i}.png": "" for i in range(5)})
    files["index.html"] = ""
    make_tree(tmp_path, files, mtime=None)
    with pytest.raises(TooManyFiles) as info:
        build_manifest(str(tmp_path), cache=False, max_files=20)
    msg = str(info.value)
    assert msg.startswith(
        "36 files, over the limit of 20 files per version.\nFolders holding the most files:\n"
    )
    assert "  /node_stuff/  30 files\n  /node_stuff/pkg0/  10 files" in msg
    assert "--max-files (paid plans allow 100,000)" in msg
    assert (info.value.count, info.value.limit) == (36, 20)
    assert len(build_manifest(str(tmp_path), cache=False, max_files=36)) == 36


def test_top_folders_prefers_the_deepest_of_equal_folders() -> None:
    files = [ScannedFile(f"/a/b/c/{i}", "", 0, 0, 0, 0) for i in range(4)] + [
        ScannedFile("/x/y", "", 0, 0, 0, 0)
    ]
    assert top_folders(files) == [("/a/b/c/", 4), ("/x/", 1)]


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 26_214_401, 5 * 2**30)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "25.0 MiB",
        "5.0 GiB",
    ]


def test_limits_are_checked_before_any_file_is_read(tmp_path: Path) -> None:
    # An unreadable FIFO-free tree with a huge sparse file: the size check fires without reading 3 GiB.
    sparse(tmp_path / "huge.bin", 3 * 2**30)
    with pytest.raises(FileTooLarge):
        build_manifest(str(tmp_path), cache=False)
    assert os.path.getsize(tmp_path / "huge.bin") == 3 * 2**30
