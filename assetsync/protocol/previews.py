"""How a deployed script is addressed on the local emulator's preview server.

Not Cloudflare's protocol but this project's own, kept here because two sides must agree on it:
the emulator parses these addresses and the client prints them. One script is named by its
account, its dispatch namespace ("" outside one) and its name, in two styles:

- host: ``<script>[.<namespace>][.<account>].localhost``. Host names are case-insensitive and
  labels at most 63 characters, so the namespace shows only when it is one lowercase label, and
  the account only when it is a Cloudflare account id (32 lowercase hex digits). A second label
  of 32 hex digits is read as an account, never as a namespace, which keeps each host one reading;
  such a namespace is reached with its account added.
- path, for clients that cannot resolve ``*.localhost``: ``/__preview/<script>[.<namespace>][@<account>]/``.
  Script names have no dot, and no name has an ``@``, so any namespace and account fit.

Without the account an address is short: it names the emulator's default account's script if
that has one, else the one account that does (more than one: the server lists the full addresses).

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

PREVIEW_PREFIX = "/__preview/"
HOST_SUFFIX = ".localhost"

_ACCOUNT_LABEL = re.compile(r"[0-9a-f]{32}")
_NAMESPACE_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


@dataclass(frozen=True, slots=True)
class PreviewAddress:
    """One script's preview address; ``account`` None is the short form."""

    script: str
    namespace: str = ""
    account: str | None = None

    @property
    def site(self) -> str:
        """``<script>[.<namespace>]``: the name the preview's pages and links show."""
        return f"{self.script}.{self.namespace}" if self.namespace else self.script

    def host(self) -> str | None:
        """The ``*.localhost`` host name, or None when a name cannot be written as a host label."""
        labels = [self.script]
        if self.namespace:
            if not _NAMESPACE_LABEL.fullmatch(self.namespace):
                return None
            if self.account is None and _ACCOUNT_LABEL.fullmatch(self.namespace):
                return None  # it would read as an account
            labels.append(self.namespace)
        if self.account is not None:
            if not _ACCOUNT_LABEL.fullmatch(self.account):
                return None
            labels.append(self.account)
        return ".".join(labels) + HOST_SUFFIX

    def segment(self) -> str:
        """The first path segment after ``/__preview/``."""
        return quote(self.site if self.account is None else f"{self.site}@{self.account}", safe="@.~")

    def urls(self, origin: str, port: int | str) -> tuple[str | None, str]:
        """(host-style URL or None, path-style URL) of the site's root; ``origin`` serves the path."""
        host = self.host()
        return (f"http://{host}:{port}/" if host else None), f"{origin}{PREVIEW_PREFIX}{self.segment()}/"

    def short(self) -> PreviewAddress:
        return PreviewAddress(self.script, self.namespace)


def parse_host(host: str) -> PreviewAddress | None:
    """The address a ``Host`` header names (port allowed), or None if it is no preview host."""
    name = host.rsplit(":", 1)[0].lower().rstrip(".")
    if not name.endswith(HOST_SUFFIX):
        return None
    labels = name[: -len(HOST_SUFFIX)].split(".")
    if not all(labels):
        return None
    if len(labels) == 1:
        return PreviewAddress(labels[0])
    if len(labels) == 2:
        if _ACCOUNT_LABEL.fullmatch(labels[1]):
            return PreviewAddress(labels[0], "", labels[1])
        return PreviewAddress(labels[0], labels[1])
    if len(labels) == 3 and _ACCOUNT_LABEL.fullmatch(labels[2]):
        return PreviewAddress(labels[0], labels[1], labels[2])
    return None


def parse_segment(segment: str) -> PreviewAddress:
    """The address in the first path segment after ``/__preview/`` (as sent: percent-encoded)."""
    site, at, account = unquote(segment).partition("@")
    script, _, namespace = site.partition(".")
    return PreviewAddress(script, namespace, account if at else None)
