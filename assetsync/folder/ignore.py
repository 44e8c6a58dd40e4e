"""Which paths of the asset folder are not assets.

The scanner applies, in this order:

1. The root's own configuration files (``_headers``, ``_redirects``, ``.assetsignore``): they
   configure the deployment and are never uploaded, whatever the patterns say.
2. The default ignores (:data:`DEFAULT_PATTERNS`), then the root ``.assetsignore`` line by
   line, then each ``--ignore``: one gitignore list in which the last matching pattern wins, so
   ``!node_modules/`` in ``.assetsignore`` re-includes a default. As in git, a file inside an
   excluded folder stays excluded (the folder is never entered): re-include the folder first.
   ``--no-default-ignores`` drops step 2's defaults.

The defaults, each matched by name at any depth (gitignore patterns; a trailing ``/`` means
folders only, the others match files and folders alike):

- ``.git/``, ``node_modules/``, ``.wrangler/``, ``.assetsync/``: repositories, dependencies,
  wrangler's and assetsync's own state; never part of a built site.
- ``.DS_Store``, ``Thumbs.db``: folder metadata that macOS Finder and Windows Explorer write.
- Editor temporaries, which appear beside the file being edited, in any folder, while a
  ``watch`` or ``dev`` session is running: vim's swap files ``.*.sw[a-p]`` (``.swp``, then
  ``.swo``... when one is taken) and the ``.*.swx`` and ``4913`` files it creates for a moment
  to test the folder; emacs's lock links ``.#*`` (dangling symlinks: without the default they
  stop a sync) and auto-saves ``#*#``; backups ``*~`` (emacs, vim, nano, and vim's ``*.un~``
  undo files); JetBrains' safe-write files ``*___jb_tmp___`` and ``*___jb_old___``.
- Secrets: ``.env*`` (``.env``, ``.env.local``, ``.envrc``...) and ``.dev.vars*`` (wrangler's
  local secrets, ``.dev.vars.<environment>`` too): a public site must not serve them. When one
  is published anyway (re-included, or defaults off), each build that reads it warns, one line
  per file.

Project settings (``.idea/``, ``.vscode/``) are not defaults: they sit in a project's root, not
in a build's output, and publishing a project root needs its own ``.assetsignore`` anyway.

Most sites have no patterns: then the defaults are decided by name (set look-ups and a few
character tests, :func:`default_ignored`) with no regex. With patterns, a path that no default
can match is decided by the user's patterns alone; only the rest goes through the full list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:  # imported on use: most sites have no patterns, and start-up counts
    import pathspec

ROOT_CONFIG_FILES = frozenset({"_headers", "_redirects", ".assetsignore"})
IGNORE_FILE = ".assetsignore"

# The defaults as gitignore lines, placed before the user's (see the module docstring for why
# each is here). :func:`default_ignored` is the same rule set decided by name, without regex.
DEFAULT_PATTERNS: tuple[str, ...] = (
    ".git/",
    "node_modules/",
    ".wrangler/",
    ".assetsync/",
    ".DS_Store",
    "Thumbs.db",
    ".*.sw[a-p]",
    ".*.swx",
    "4913",
    ".#*",
    "\\#*#",
    "*~",
    "*___jb_tmp___",
    "*___jb_old___",
    ".env*",
    ".dev.vars*",
)
DEFAULT_IGNORED_DIRS = frozenset({".git", "node_modules", ".wrangler", ".assetsync"})
_DEFAULT_NAMES = frozenset({".DS_Store", "Thumbs.db", "4913"})
_DOT_PREFIXES = (".#", ".env", ".dev.vars")
_JETBRAINS = ("___jb_tmp___", "___jb_old___")
_SWAP_LAST = frozenset("abcdefghijklmnopx")
SECRET_PREFIXES = (".env", ".dev.vars")
# Matches every path that some default pattern could match (a component that starts with ".",
# "#", node_modules, Thumbs.db or 4913, or ends with "~", or holds ___jb_): a superset, so a
# path it misses is decided by the user's patterns alone.
_MAY_BE_DEFAULT = re.compile(r"(?:^|/)(?:[.#]|node_modules|Thumbs\.db|4913)|~(?:/|$)|___jb_").search


def default_ignored(name: str, folder: bool) -> bool:
    """Whether :data:`DEFAULT_PATTERNS` match the file (or ``folder``) called ``name``."""
    if name in _DEFAULT_NAMES:
        return True
    last = name[-1]
    if last == "~":
        return True
    first = name[0]
    if first == "." and (
        name.startswith(_DOT_PREFIXES) or (len(name) > 4 and name[-4:-1] == ".sw" and last in _SWAP_LAST)
    ):
        return True
    if last == "#" and first == "#" and len(name) > 1:
        return True
    if last == "_" and name.endswith(_JETBRAINS):
        return True
    return folder and name in DEFAULT_IGNORED_DIRS


def _default_file(rel: str, name: str) -> bool:
    # Every default needs one of these first or last characters, or is a set member: most
    # names are decided here, without a call.
    return (name[0] in ".#" or name[-1] in "~#_" or name in _DEFAULT_NAMES) and default_ignored(name, False)


def _default_dir(rel: str, name: str) -> bool:
    return default_ignored(name, True)


def _never(rel: str, name: str) -> bool:
    return False


def looks_secret(name: str) -> bool:
    """Whether a file called ``name`` is one the defaults keep off a site as secrets."""
    return name.startswith(SECRET_PREFIXES)


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

    defaults: bool = True
    spec: pathspec.GitIgnoreSpec | None = None  # the user's patterns alone
    combined: pathspec.GitIgnoreSpec | None = None  # the defaults, then the user's patterns
    patterns: tuple[str, ...] = field(default=())
    # skip_file(rel, name): whether the file at ``rel`` (relative, "/"-separated) is not an
    # asset; skip_dir(rel, name): whether to prune the folder at ``rel``. Chosen per rule set.
    skip_file: Callable[[str, str], bool] = field(init=False, repr=False, compare=False)
    skip_dir: Callable[[str, str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Pick the cheapest test that gives the rule set's verdict: it runs once per file."""
        spec, combined = self.spec, self.combined
        if spec is None:
            tests = (_default_file, _default_dir) if self.defaults else (_never, _never)
        elif combined is None:
            match = spec.match_file
            tests = (lambda rel, name: match(rel), lambda rel, name: match(rel + "/"))
        else:
            user, full = spec.match_file, combined.match_file

            def skip_file(rel: str, name: str) -> bool:
                return (user if _MAY_BE_DEFAULT(rel) is None else full)(rel)

            def skip_dir(rel: str, name: str) -> bool:
                rel += "/"
                return (user if _MAY_BE_DEFAULT(rel) is None else full)(rel)

            tests = (skip_file, skip_dir)
        object.__setattr__(self, "skip_file", tests[0])
        object.__setattr__(self, "skip_dir", tests[1])

    @classmethod
    def load(
        cls,
        root: str,
        extra: Iterable[str] = (),
        default_ignores: bool = True,
        exclude_dirs: Iterable[str] = (),
    ) -> IgnoreRules:
        """Rules for ``root``: the defaults, then its ``.assetsignore``, then ``extra`` patterns.

        ``exclude_dirs`` are absolute folders to skip wholesale when they sit inside ``root``
        (assetsync's cache pointed into the site must never become an asset).
        """
        lines = read_ignore_file(os.path.join(root, IGNORE_FILE))
        extra = list(extra)
        for path in exclude_dirs:
            rel = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
            if rel != "." and not rel.startswith(".."):
                extra.append("/" + rel.replace(os.sep, "/") + "/")
        spec = combined = None
        if lines or extra:
            if lines:
                _compile(lines, os.path.join(root, IGNORE_FILE))
            if extra:
                _compile(extra, "--ignore")
            spec = _compile([*lines, *extra], "the ignore patterns")
            if default_ignores:
                combined = _compile([*DEFAULT_PATTERNS, *lines, *extra], "the ignore patterns")
        return cls(default_ignores, spec, combined, tuple(lines + extra))

    def secret_warning(self, path: str) -> str:
        """The warning for publishing ``path``, whose name :func:`looks_secret`: the defaults
        keep such files off a site, so it is published only because the user chose it."""
        why = "re-included by a ! pattern" if self.defaults else "--no-default-ignores"
        return f"publishing {path}, which looks like secrets ({why}): anyone can download it from the site"
