"""The manifest's wire form (PROTOCOL.md 1 and 4.1), written in one place.

The upload session's body is ``{"manifest": {"/key": {"hash": "<32 hex>", "size": <bytes>}}}``:
compact, keys in the order given (callers give them sorted, as wrangler sends them), raw UTF-8.
It is written by hand because ``json.dumps`` of the same dict is about 3x slower at 10,000
entries, and every run prints or sends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from json.encoder import encode_basestring  # a str as a JSON string, non-ASCII kept raw

__all__ = ["entry_json", "session_body"]


def entry_json(key: str, digest: str, size: int) -> str:
    """One member of the manifest object, ``"/key":{"hash":"...","size":N}``; a writer that
    patches its previous manifest keeps these per key."""
    return f'{encode_basestring(key)}:{{"hash":"{digest}","size":{size}}}'


def session_body(entries: Iterable[str]) -> str:
    """The session body holding ``entries`` (made by :func:`entry_json`) in the order given."""
    return '{"manifest":{' + ",".join(entries) + "}}"
