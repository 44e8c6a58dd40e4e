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

from ..errors import SourceNotFound, UnreadablePath
from ..protocol import is_utf8
from .ignore import ROOT_CONFIG_FILES, SECRET_PREFIXES, IgnoreRules

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


_O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_BAD_CHAR = re.compile("[\x00-\x1f\x7f]").search


def check_name(name: str, path: str, folder: bool) -> None:
    """Raise :class:`UnreadablePath` when ``name`` (one component of ``path``) cannot be part of
    a URL path: bytes that are not UTF-8, or a control character (a newline, a tab...)."""
    if not name.isascii() and not is_utf8(name):
        raise UnreadablePath(
            f"{_display(path)}: the name is not valid UTF-8, so it cannot be a URL path. "
            "Rename it, or add it to .assetsignore.",
            path,
        )
    bad = _BAD_CHAR(name)
    if bad is not None:
        raise UnreadablePath(
            f"{_display(path)!r}: the {'folder' if folder else 'file'} name contains the control "
            f"character {bad.group()!r}, which no URL can request. Rename it, or add it to .assetsignore.",
            path,
        )


def check_path(base: str, rel: str, folder: bool) -> None:
    """:func:`check_name` for every component of ``rel``, a ``/``-separated path under ``base``
    (which ends in ``/``); ``folder`` says whether the last component is a folder."""
    if rel.isascii() and _BAD_CHAR(rel) is None:
        return
    parts = rel.split("/")
    for i, part in enumerate(parts):
        check_name(part, base + "/".join(parts[: i + 1]), folder or i < len(parts) - 1)


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


def scan(root: str, rules: IgnoreRules, warn: Warn, under: str = "") -> list[ScannedFile]:
    """Every asset file under ``root`` (or only under its subfolder ``under``, a relative
    ``/``-separated path whose ancestors the caller has checked), in no particular order.

    Raises :class:`UnreadablePath` for a broken symlink, a symlink loop, a folder that cannot be
    listed, or a name that is not valid UTF-8 or holds control characters: each would otherwise
    be silently missing from the deployed site.

    Each folder is listed through an open descriptor, so every ``stat`` resolves one name
    relative to it instead of the whole path (measured: about 20% faster on 100,000 files).
    """
    root = check_root(root)
    out: list[ScannedFile] = []
    append = out.append
    root_st = os.stat(root)
    base = root.rstrip("/") + "/"
    # (folder, relative prefix with trailing "/", identities of the folders above it)
    stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [
        (root, "", frozenset({(root_st.st_dev, root_st.st_ino)}))
    ]
    if under:
        under = under.strip("/")
        sub_st = os.stat(base + under)
        stack = [
            (
                base + under,
                under + "/",
                frozenset({(root_st.st_dev, root_st.st_ino), (sub_st.st_dev, sub_st.st_ino)}),
            )
        ]
    skip_file, skip_dir = rules.skip_file, rules.skip_dir
    new = tuple.__new__  # builds the NamedTuple without its Python-level __new__: 100,000 times
    while stack:
        folder, prefix, above = stack.pop()
        try:
            fd = os.open(folder, _O_DIR)
        except OSError as exc:
            raise _unlistable(folder, exc) from None
        try:
            with os.scandir(fd) as it:
                for entry in it:
                    name = entry.name
                    rel = prefix + name
                    if not prefix and name in ROOT_CONFIG_FILES:
                        continue
                    try:
                        st = entry.stat()
                    except OSError as exc:
                        if skip_file(rel, name) or skip_dir(rel, name):
                            continue  # an ignored broken link or loop is no one's concern
                        raise _stat_error(base + rel, fd, name, exc) from None
                    mode = st.st_mode
                    if stat_mod.S_ISDIR(mode):
                        if skip_dir(rel, name):
                            continue
                        if not name.isascii() or _BAD_CHAR(name) is not None:
                            check_name(name, base + rel, folder=True)
                        ident = (st.st_dev, st.st_ino)
                        if ident in above:
                            raise UnreadablePath(
                                f"{_display(base + rel)}: symlink loop (it leads back to a folder "
                                "that contains it). Remove the link or add it to .assetsignore.",
                                base + rel,
                            )
                        stack.append((base + rel, rel + "/", above | {ident}))
                    elif stat_mod.S_ISREG(mode):
                        if skip_file(rel, name):
                            continue
                        if not name.isascii() or _BAD_CHAR(name) is not None:
                            check_name(name, base + rel, folder=False)
                        if name[0] == "." and name.startswith(SECRET_PREFIXES):
                            warn(rules.secret_warning(_display(base + rel)))
                        append(
                            new(
                                ScannedFile,
                                (
                                    "/" + rel,
                                    base + rel,
                                    st.st_size,
                                    st.st_mtime_ns,
                                    st.st_ctime_ns,
                                    st.st_ino,
                                ),
                            )
                        )
                    elif not skip_file(rel, name):
                        warn(f"skipped {_display(base + rel)}: {_kind(mode)}, not a regular file")
        except OSError as exc:
            raise _unlistable(folder, exc) from None
        finally:
            os.close(fd)
    return out


def _unlistable(folder: str, exc: OSError) -> UnreadablePath:
    return UnreadablePath(
        f"{_display(folder)}: cannot list this folder ({exc.strerror}). "
        "Fix its permissions or add it to .assetsignore.",
        folder,
    )


def _kind(mode: int) -> str:
    if stat_mod.S_ISFIFO(mode):
        return "a FIFO"
    if stat_mod.S_ISSOCK(mode):
        return "a socket"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _stat_error(path: str, dir_fd: int, name: str, exc: OSError) -> UnreadablePath:
    shown = _display(path)
    if exc.errno == errno.ELOOP:
        msg = f"{shown}: symlink loop. Remove the link or add it to .assetsignore."
    elif exc.errno == errno.ENOENT:
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"
        msg = (
            f"{shown}: broken symlink (points to {_display(target)}, which does not exist). "
            "Fix or remove the link, or add it to .assetsignore."
        )
    else:
        msg = f"{shown}: cannot be read ({exc.strerror})."
    return UnreadablePath(msg, path)
