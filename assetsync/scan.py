"""Walk an asset folder and list its files with the stat fields the hash cache keys on.

``os.scandir`` with an explicit stack: one ``stat`` per entry, ignored folders pruned before
they are entered, no pathlib on the hot path. Symlinks to files and folders are followed; a
link back to a folder being walked is a loop. FIFOs, sockets and devices are never opened.
"""

from __future__ import annotations

import errno
import os
import re
import stat as stat_mod
from collections.abc import Callable
from typing import NamedTuple

from .errors import SourceNotFound, UnreadablePath
from .ignore import ROOT_CONFIG_FILES, IgnoreRules

Warn = Callable[[str], None]


class ScannedFile(NamedTuple):
    """One regular file of the site, as the scan saw it."""

    path: str  # manifest key: "/" + relative path, "/" separators
    abspath: str
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


def _display(path: str) -> str:
    """A path as a person should see it, with undecodable bytes shown escaped."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


_BAD_CHAR = re.compile("[\x00-\x1f\x7f]").search


def _utf8(name: str) -> bool:
    """False for names holding bytes that are not UTF-8 (decoded as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_root(root: str) -> str:
    """The absolute path of ``root`` after checking it is a readable folder."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        raise SourceNotFound(
            f"{root}: no such folder. Pass the folder that holds your built site.", root
        ) from None
    except OSError as exc:
        raise SourceNotFound(f"{root}: cannot be read ({exc.strerror}).", root) from None
    if not stat_mod.S_ISDIR(st.st_mode):
        raise SourceNotFound(
            f"{root} is a file, not a folder. Pass the folder that holds your built site.", root
        )
    return os.path.abspath(root)


def scan(root: str, rules: IgnoreRules, warn: Warn) -> list[ScannedFile]:
    """Every asset file under ``root``, in no particular order.

    Raises :class:`UnreadablePath` for a broken symlink, a symlink loop, a folder that cannot be
    listed, or a name that is not valid UTF-8 or holds control characters: each would otherwise
    be silently missing from the deployed site.
    """
    root = check_root(root)
    out: list[ScannedFile] = []
    append = out.append
    root_st = os.stat(root)
    # (folder, relative prefix with trailing "/", identities of the folders above it)
    stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [
        (root, "", frozenset({(root_st.st_dev, root_st.st_ino)}))
    ]
    skip_file, skip_dir = rules.skip_file, rules.skip_dir
    new = tuple.__new__  # builds the NamedTuple without its Python-level __new__: 100,000 times
    while stack:
        folder, prefix, above = stack.pop()
        try:
            it = os.scandir(folder)
        except OSError as exc:
            raise UnreadablePath(
                f"{_display(folder)}: cannot list this folder ({exc.strerror}). "
                "Fix its permissions or add it to .assetsignore.",
                folder,
            ) from None
        with it:
            for entry in it:
                name = entry.name
                rel = prefix + name
                if not prefix and name in ROOT_CONFIG_FILES:
                    continue
                if not name.isascii() and not _utf8(name):
                    raise UnreadablePath(
                        f"{_display(entry.path)}: the name is not valid UTF-8, so it cannot be a "
                        "URL path. Rename it (or add it to .assetsignore).",
                        entry.path,
                    )
                try:
                    st = entry.stat()
                except OSError as exc:
                    raise _stat_error(entry, exc) from None
                mode = st.st_mode
                if stat_mod.S_ISDIR(mode):
                    if skip_dir(rel, name):
                        continue
                    ident = (st.st_dev, st.st_ino)
                    if ident in above:
                        raise UnreadablePath(
                            f"{_display(entry.path)}: symlink loop (it leads back to a folder "
                            "that contains it). Remove the link or add it to .assetsignore.",
                            entry.path,
                        )
                    stack.append((entry.path, rel + "/", above | {ident}))
                elif stat_mod.S_ISREG(mode):
                    if skip_file(rel, name):
                        continue
                    if (bad := _BAD_CHAR(name)) is not None:
                        raise UnreadablePath(
                            f"{_display(entry.path)!r}: the name contains the control character "
                            f"{bad.group()!r}, which no URL can request. Rename the file.",
                            entry.path,
                        )
                    append(
                        new(
                            ScannedFile,
                            ("/" + rel, entry.path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino),
                        )
                    )
                elif not skip_file(rel, name):
                    warn(f"skipped {_display(entry.path)}: {_kind(mode)}, not a regular file")
    return out


def _kind(mode: int) -> str:
    if stat_mod.S_ISFIFO(mode):
        return "a FIFO"
    if stat_mod.S_ISSOCK(mode):
        return "a socket"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _stat_error(entry: os.DirEntry[str], exc: OSError) -> UnreadablePath:
    path = _display(entry.path)
    if exc.errno == errno.ELOOP:
        msg = f"{path}: symlink loop. Remove the link or add it to .assetsignore."
    elif exc.errno == errno.ENOENT and entry.is_symlink():
        try:
            target = os.readlink(entry.path)
        except OSError:
            target = "?"
        msg = (
            f"{path}: broken symlink (points to {_display(target)}, which does not exist). "
            "Fix or remove the link, or add it to .assetsignore."
        )
    else:
        msg = f"{path}: cannot be read ({exc.strerror})."
    return UnreadablePath(msg, entry.path)
