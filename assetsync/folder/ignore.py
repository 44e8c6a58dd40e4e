"""Which paths of the asset folder are not assets.

Three sources, applied in this order by the scanner:

1. The root's own configuration files (``_headers``, ``_redirects``, ``.assetsignore``): they
   configure the deployment and are never uploaded.
2. Default ignores, matched by base name at any depth (cheap set look-ups, no regex): junk that
   wrangler users keep uploading by accident and assetsync's own state. ``--no-default-ignores``
   turns them off. A user pattern cannot re-include them; turn the defaults off instead.
3. The root ``.assetsignore`` plus ``--ignore`` patterns, with gitignore semantics via pathspec
   (negation, anchoring, ``**``, trailing ``/`` for folders, comments, CRLF line ends).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:  # imported on use: most sites have no patterns, and start-up counts
    import pathspec

ROOT_CONFIG_FILES = frozenset({"_headers", "_redirects", ".assetsignore"})
DEFAULT_IGNORED_FILES = frozenset({".DS_Store", "Thumbs.db"})
DEFAULT_IGNORED_DIRS = frozenset({".git", "node_modules", ".wrangler", ".assetsync"})
IGNORE_FILE = ".assetsignore"


def _compile(lines: Sequence[str], source: str) -> pathspec.GitIgnoreSpec:
    """The compiled patterns; a :class:`ConfigError` naming the culprit (its line in the ignore
    file, or the ``--ignore`` option) when one does not parse."""
    import pathspec

    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception as exc:
        # Find the culprit so the message can point at it.
        for number, line in enumerate(lines, 1):
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except Exception:
                if source == "--ignore":
                    raise ConfigError(
                        f"--ignore {line!r}: invalid pattern (.gitignore syntax). Fix or drop that option."
                    ) from None
                raise ConfigError(
                    f"{source}, line {number}: invalid pattern {line!r} (.gitignore syntax). "
                    "Fix or remove that line."
                ) from None
        raise ConfigError(f"{source}: cannot parse the ignore patterns ({exc})") from None


def read_ignore_file(path: str) -> list[str]:
    """The pattern lines of an ignore file: UTF-8 (a BOM is dropped), any line ending."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}. Check its permissions.") from None
    return utf8_text(raw, path, "utf-8-sig").splitlines()


def utf8_text(raw: bytes, path: str, codec: str = "utf-8") -> str:
    """``raw`` decoded, or a :class:`ConfigError` naming the line of ``path`` that is not UTF-8."""
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}, line {line}: not valid UTF-8 text. Save the file as UTF-8.") from None


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """Decides, per relative path, whether the scanner skips it."""

    ignored_files: frozenset[str] = DEFAULT_IGNORED_FILES
    ignored_dirs: frozenset[str] = DEFAULT_IGNORED_DIRS
    spec: pathspec.GitIgnoreSpec | None = None
    patterns: tuple[str, ...] = field(default=())

    @classmethod
    def load(
        cls,
        root: str,
        extra: Iterable[str] = (),
        default_ignores: bool = True,
        exclude_dirs: Iterable[str] = (),
    ) -> IgnoreRules:
        """Rules for ``root``: its ``.assetsignore``, ``extra`` patterns, and the defaults.

        ``exclude_dirs`` are absolute folders to skip wholesale when they sit inside ``root``
        (assetsync's cache pointed into the site must never become an asset).
        """
        lines = read_ignore_file(os.path.join(root, IGNORE_FILE))
        extra = list(extra)
        for path in exclude_dirs:
            rel = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
            if rel != "." and not rel.startswith(".."):
                extra.append("/" + rel.replace(os.sep, "/") + "/")
        spec = None
        if lines or extra:
            if lines:
                _compile(lines, os.path.join(root, IGNORE_FILE))
            if extra:
                _compile(extra, "--ignore")
            spec = _compile([*lines, *extra], "the ignore patterns")
        if default_ignores:
            return cls(spec=spec, patterns=tuple(lines + extra))
        return cls(frozenset(), frozenset(), spec, tuple(lines + extra))

    def skip_dir(self, rel: str, name: str) -> bool:
        """Whether to prune the folder at ``rel`` (relative, ``/``-separated, no leading slash)."""
        if name in self.ignored_dirs:
            return True
        return self.spec is not None and self.spec.match_file(rel + "/")

    def skip_file(self, rel: str, name: str) -> bool:
        """Whether the file at ``rel`` is not an asset."""
        if name in self.ignored_files:
            return True
        return self.spec is not None and self.spec.match_file(rel)
