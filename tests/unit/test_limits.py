from __future__ import annotations

import ctypes
import os
import struct
import sys
from pathlib import Path

import pytest

from assetsync.errors import FileTooLarge, TooManyFiles
from assetsync.folder.build import BuildOptions, build, build_manifest
from assetsync.folder.limits import human_size, top_folders
from assetsync.folder.scan import ScannedFile
from assetsync.protocol import FREE_PLAN_FILES, MAX_FILE_SIZE

from ..helpers import make_tree, run_cli


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


class Opens:
    """The names of the files opened in one folder, by this process or any other, as the kernel
    reports them (inotify ``IN_OPEN``, queued when the file is opened): whether a limit was
    checked before any file was read, told without timing and without touching the code."""

    IN_OPEN, IN_ISDIR = 0x20, 0x40000000

    def __init__(self, folder: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = int(libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
        if self.fd < 0 or int(libc.inotify_add_watch(self.fd, os.fsencode(folder), self.IN_OPEN)) < 0:
            raise OSError(ctypes.get_errno(), "inotify")

    def __enter__(self) -> Opens:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def take(self) -> list[str]:
        """The files opened since the last call, in order (the folder itself is left out)."""
        names: list[str] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            at = 0
            while at < len(data):
                _, mask, _, size = struct.unpack_from("iIII", data, at)
                if not mask & self.IN_ISDIR:
                    names.append(data[at + 16 : at + 16 + size].rstrip(b"\0").decode())
                at += 16 + size


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="watches opens with inotify")


def over_the_limit(folder: Path, limit: str) -> int:
    """A folder breaking ``limit`` ("size" or "count"); returns the --max-files to use."""
    make_tree(folder, {"a.txt": "a", "b.txt": "b", "c.txt": "c"})
    if limit == "size":
        sparse(folder / "big.bin", MAX_FILE_SIZE + 1)  # one byte over: reading it takes a moment only
        return FREE_PLAN_FILES
    return 2


@linux_only
@pytest.mark.parametrize("limit", ["size", "count"])
def test_limits_are_checked_before_any_file_is_read(tmp_path: Path, limit: str) -> None:
    site = tmp_path / "site"
    max_files = over_the_limit(site, limit)
    with Opens(site) as opens:
        with pytest.raises(FileTooLarge if limit == "size" else TooManyFiles):
            build_manifest(str(site), cache=False, max_files=max_files)
        assert opens.take() == []
        # The watch does see reads: with the limit raised, every file is read.
        options = BuildOptions(max_files=max_files + 1, max_file_size=MAX_FILE_SIZE + 1, use_cache=False)
        build(str(site), options)
        assert sorted(opens.take()) == sorted(os.listdir(site))


@linux_only
@pytest.mark.parametrize("limit", ["size", "count"])
def test_cli_checks_limits_before_reading_any_file(tmp_path: Path, limit: str) -> None:
    site = tmp_path / "site"
    max_files = over_the_limit(site, limit)
    with Opens(site) as opens:
        args = ("--local", "--local-data", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache"))
        proc = run_cli("sync", str(site), *args, "--max-files", str(max_files), cwd=tmp_path)
        assert proc.returncode == 5, proc.stderr
        expected = "/big.bin  26,214,401 bytes" if limit == "size" else "3 files, over the limit of 2"
        assert expected in proc.stderr
        assert opens.take() == []
        # The watch sees the child's reads: without the file or the flag that breaks the limit, it
        # reads them all.
        (site / "big.bin").unlink(missing_ok=True)
        assert run_cli("manifest", str(site), "--no-cache", cwd=tmp_path).returncode == 0
        assert sorted(opens.take()) == ["a.txt", "b.txt", "c.txt"]
