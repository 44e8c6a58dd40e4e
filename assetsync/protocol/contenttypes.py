"""The Content-Type each asset is uploaded with, exactly as wrangler chooses it.

The table in ``data/mime.json`` was generated once from the npm ``mime`` v4 package (the one
wrangler bundles) and is kept as data: Python's ``mimetypes`` disagrees with it and reads
``/etc/mime.types``, so it would make hashes depend on the machine. ``text/*`` types already
carry ``; charset=utf-8`` in the table. Unknown extensions map to ``application/null``, which
the platform takes as "serve no Content-Type".
"""

from __future__ import annotations

import os
from functools import cache

UNKNOWN = "application/null"
# Names the table's contents: part of the hash cache's key, so a new table invalidates cached
# (content type, hash) pairs without the cache having to look every type up again.
TABLE_ID = "mime-4.1.2"


@cache
def _table() -> dict[str, str]:
    import json  # only runs that look a type up pay for it

    # A plain file read: importlib.resources costs more to import than the table to load.
    with open(os.path.join(os.path.dirname(__file__), "data", "mime.json"), "rb") as f:
        table: dict[str, str] = json.load(f)["types"]
    return table


def extension(name: str) -> str:
    """The extension of a file name or path without its dot, case kept, ``""`` when none.

    Computed as Node's ``path.extname`` does (wrangler hashes with it, ``mime`` looks types up
    the same way): the text after the last dot of the base name, unless that dot is the base
    name's first character. So ``.DS_Store``, ``README`` and ``file.`` have none, ``a.b.CSS`` has
    ``CSS`` and ``..foo`` has ``foo`` (``os.path.splitext`` says none for that one).
    """
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    if dot < 1 or base == "..":
        return ""
    return base[dot + 1 :]


def content_type(name: str) -> str:
    """The Content-Type for a file name or ``/``-separated path, ``application/null`` if unknown.

    Same rule as :func:`extension`, inlined: it runs once per file of a site.
    """
    dot = name.rfind(".")
    if dot <= name.rfind("/") + 1:
        return UNKNOWN
    return _table().get(name[dot + 1 :].lower(), UNKNOWN)
